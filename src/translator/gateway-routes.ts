/**
 * Route configurations for a gateway: one per RDS name (http.PORT, https.PORT.NAME.GW.NS), a
 * virtual host per exposed host with the routes of the VirtualServices bound to the Gateway.
 * A host that no VirtualService declares gets no virtual host, so Envoy answers 404.
 */
import type { VirtualService } from '../api/index.js';
import type { ConfigSnapshot } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { exposedHosts } from './host-matching.js';
import { buildHttpRoutes, catchAllLast, isCatchAllRoute, MAX_DIRECT_RESPONSE_BODY } from './http-routes.js';
import { plainServerHosts, type GatewayServer, type ListenerGroup } from './gateway-servers.js';
import type { NamedResource } from './types.js';
import { byName, compareStrings } from './ordering.js';
import { hoistRetryPolicy } from './route-policies.js';

type Obj = Record<string, unknown>;

interface VHost {
  host: string;
  port: number;
  routes: Obj[];
  requireTls: boolean;
}

export interface GatewayRoutesResult {
  routes: NamedResource[];
  notes: string[];
}

function vsKey(vs: VirtualService): string {
  return `${vs.metadata.namespace}/${vs.metadata.name}`;
}

/** The VirtualService a route came from ("ns/name"), read back from its Istio config metadata. */
function routeOwner(route: Obj): string {
  const md = route.metadata as { filterMetadata?: { istio?: { config?: string } } } | undefined;
  const m = /namespaces\/([^/]+)\/virtual-service\/([^/]+)$/.exec(md?.filterMetadata?.istio?.config ?? '');
  return m ? `${m[1]}/${m[2]}` : '?';
}

/**
 * Several VirtualServices for one host on a gateway are merged (oldest first). A later route whose
 * match an earlier VirtualService already claims never matches: say so instead of dropping it
 * silently. Catch-alls count too (only the first one is reachable).
 */
function reportShadowed(host: string, existing: readonly Obj[], added: readonly Obj[], notes: string[]): void {
  const claimed = new Map<string, string>();
  for (const r of existing) {
    const k = JSON.stringify(r.match);
    if (!claimed.has(k)) claimed.set(k, routeOwner(r));
  }
  for (const r of added) {
    const k = JSON.stringify(r.match);
    const first = claimed.get(k);
    const owner = routeOwner(r);
    if (first && first !== owner) {
      notes.push(`host ${host}: VirtualService ${owner} route ${isCatchAllRoute(r) ? '(catch-all)' : k} is shadowed by VirtualService ${first}, which is older and has the same match; it never applies`);
    }
  }
}

/** The virtual hosts of one RDS name, from all servers that use it. */
function buildVirtualHosts(snapshot: ConfigSnapshot, proxy: ProxyInfo, servers: readonly GatewayServer[], notes: string[]): VHost[] {
  const vhosts = new Map<string, VHost>();
  // Routes are built once per (Gateway, VirtualService), with the first server's port, as Istio does.
  const built = new Map<string, Obj[]>();
  for (const s of servers) {
    const port = s.server.port.number;
    const redirect = !!s.server.tls?.httpsRedirect;
    // Only those exported to the gateway's namespace, in Istio's order (private, exported to it, public).
    for (const vs of snapshot.virtualServicesForGateway(s.gatewayRef, proxy.namespace)) {
      const hosts = exposedHosts(s.server.hosts, s.gateway.metadata.namespace, vs, snapshot.mesh.domainSuffix);
      if (hosts.length === 0) continue;
      const key = `${s.gatewayRef}|${vsKey(vs)}`;
      let routes = built.get(key);
      if (!routes) {
        routes = buildHttpRoutes(vs.spec.http ?? [], { snapshot, proxy, vs, listenerPort: port, isTls: !!s.server.tls, gateways: new Set([s.gatewayRef]) });
        built.set(key, routes);
      }
      // A VirtualService without applicable routes contributes no virtual host.
      if (routes.length === 0) continue;
      for (const host of hosts) {
        const v = vhosts.get(host);
        if (v) {
          reportShadowed(host, v.routes, routes, notes);
          v.routes.push(...routes);
          v.requireTls ||= redirect;
        } else {
          vhosts.set(host, { host, port, routes: [...routes], requireTls: redirect });
        }
      }
    }
    // An httpsRedirect server redirects every host it declares, bound VirtualService or not.
    if (redirect) {
      for (const host of plainServerHosts(s.server)) {
        const v = vhosts.get(host);
        if (v) v.requireTls = true;
        else vhosts.set(host, { host, port, routes: [], requireTls: true });
      }
    }
  }
  return [...vhosts.values()];
}

/**
 * Virtual hosts with identical routes collapse into one (the alphabetically first names it), as
 * Istio's route-collapse optimisation does; each keeps its domains.
 */
function collapse(vhosts: readonly VHost[]): Obj[] {
  const sorted = [...vhosts].sort((a, b) => compareStrings(a.host, b.host)).map((v) => ({ v, routes: catchAllLast(v.routes) }));
  // Equal routes have equal fingerprints (TLS flag, count, last route): the whole route lists are
  // compared only between virtual hosts whose fingerprints meet.
  const fingerprints = sorted.map(({ v, routes }) => `${v.requireTls}|${routes.length}|${JSON.stringify(routes[routes.length - 1] ?? null)}`);
  const shared = new Map<string, number>();
  for (const f of fingerprints) shared.set(f, (shared.get(f) ?? 0) + 1);
  const byRoutes = new Map<string, { name: string; domains: string[]; v: VHost }>();
  for (const [i, { v, routes }] of sorted.entries()) {
    const key = shared.get(fingerprints[i])! > 1 ? `all|${v.requireTls}|${JSON.stringify(routes)}` : `one|${fingerprints[i]}`;
    const same = byRoutes.get(key);
    if (same) same.domains.push(v.host);
    else byRoutes.set(key, { name: `${v.host}:${v.port}`, domains: [v.host], v: { ...v, routes } });
  }
  return [...byRoutes.values()].map(({ name, domains, v }) => hoistRetryPolicy({
    name,
    domains,
    routes: v.routes,
    ...(v.requireTls ? { requireTls: 'ALL' } : {}),
    includeRequestAttemptCount: true,
  }));
}

/** Route configurations for the RDS names in `referenced` (those the emitted listeners use). */
export function buildGatewayRoutes(snapshot: ConfigSnapshot, proxy: ProxyInfo, groups: readonly ListenerGroup[], referenced: ReadonlySet<string>): GatewayRoutesResult {
  const byRouteName = new Map<string, GatewayServer[]>();
  for (const g of groups) for (const s of g.servers) {
    if (!s.routeName || !referenced.has(s.routeName)) continue;
    byRouteName.set(s.routeName, [...(byRouteName.get(s.routeName) ?? []), s]);
  }
  const notes: string[] = [];
  const routes: NamedResource[] = [];
  for (const [name, servers] of byRouteName) {
    const vhosts = buildVirtualHosts(snapshot, proxy, servers, notes);
    let virtualHosts: Obj[];
    if (vhosts.length === 0) {
      notes.push(`route ${name}: no VirtualService exposes a host on it; every request gets 404`);
      // Istio's explicit 404 virtual host: no routes.
      virtualHosts = [{ name: `blackhole:${servers[0].server.port.number}`, domains: ['*'], routes: [] }];
    } else {
      virtualHosts = collapse(vhosts);
    }
    routes.push({ name, value: { name, virtualHosts, validateClusters: { value: false }, ignorePortInHostMatching: true, maxDirectResponseBodySizeBytes: { value: MAX_DIRECT_RESPONSE_BODY } } });
  }
  return { routes: routes.sort(byName), notes };
}
