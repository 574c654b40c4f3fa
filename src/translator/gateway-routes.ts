/**
 * Route configurations for a gateway: one per RDS name, a virtual host per exposed host, routes
 * from the VirtualServices bound to the Gateway in Istio's order (first match wins).
 */
import type { HTTPMatchRequest, HTTPRoute, VirtualService } from '../api/index.js';
import type { ConfigSnapshot } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { labelsMatch } from '../registry/services.js';
import { resolveDestination, type ResolvedDestination } from './destinations.js';
import { exposedHosts, gatewayRef, type GatewayServer, type ListenerGroup } from './gateway-servers.js';
import { buildRouteAction } from './route-action.js';
import { buildRouteMatch } from './route-match.js';
import type { NamedResource } from './types.js';

type Obj = Record<string, unknown>;

export interface RouteBuildResult {
  routes: NamedResource[];
  /** Every destination a route (or mirror) points at. */
  destinations: ResolvedDestination[];
  /** Problems worth reporting (e.g. a host claimed by two VirtualServices). */
  notes: string[];
}

/** Does this match block apply on this gateway / port / proxy? */
function matchApplies(m: HTTPMatchRequest, gwRef: string, vsNamespace: string, port: number, proxy: ProxyInfo): boolean {
  if (m.port !== undefined && m.port !== port) return false;
  if (m.gateways?.length) {
    const refs = m.gateways.map((g) => (g === 'mesh' || g.includes('/') ? g : `${vsNamespace}/${g}`));
    if (!refs.includes(gwRef)) return false;
  }
  if (m.sourceLabels && !labelsMatch(m.sourceLabels, proxy.labels)) return false;
  if (m.sourceNamespace && m.sourceNamespace !== proxy.namespace) return false;
  return true;
}

/** Envoy routes for one HTTPRoute list; a route whose match blocks all fail to apply is skipped. */
export function buildEnvoyRoutes(http: readonly HTTPRoute[], vs: VirtualService, gwRef: string, port: number, proxy: ProxyInfo, resolve: (d: HTTPRoute['mirror'] & object) => ResolvedDestination): Obj[] {
  const out: Obj[] = [];
  http.forEach((r, i) => {
    if (r.delegate) return; // Delegation is resolved before this point (later issue); a bare delegate routes nowhere.
    const matches = r.match?.length ? r.match.filter((m) => matchApplies(m, gwRef, vs.metadata.namespace, port, proxy)) : [undefined];
    if (matches.length === 0) return;
    const action = buildRouteAction(r, { resolve }, port);
    for (const m of matches) {
      out.push({
        name: r.name ?? `${vs.metadata.namespace}.${vs.metadata.name}.${i}`,
        match: buildRouteMatch(m),
        ...action,
        metadata: { filterMetadata: { 'istio': { config: `/apis/networking.istio.io/v1/namespaces/${vs.metadata.namespace}/virtual-service/${vs.metadata.name}` } } },
      });
    }
  });
  return out;
}

function vhostDomains(host: string, port: number): string[] {
  return host === '*' ? ['*'] : [host, `${host}:${port}`];
}

export function buildGatewayRoutes(snapshot: ConfigSnapshot, proxy: ProxyInfo, groups: readonly ListenerGroup[]): RouteBuildResult {
  const byRouteName = new Map<string, GatewayServer[]>();
  for (const g of groups) for (const s of g.servers) {
    if (s.kind !== 'http' && s.kind !== 'https') continue;
    byRouteName.set(s.routeName, [...(byRouteName.get(s.routeName) ?? []), s]);
  }
  const destinations = new Map<string, ResolvedDestination>();
  const notes: string[] = [];
  const routes: NamedResource[] = [];
  for (const [routeName, servers] of [...byRouteName.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const vhosts = new Map<string, { routes: Obj[]; requireTls: boolean; owner: string; port: number }>();
    for (const s of servers) {
      const gwRef = gatewayRef(s.gateway);
      const port = s.server.port.number;
      for (const vs of snapshot.virtualServicesForGateway(gwRef)) {
        const hosts = exposedHosts(s, vs, proxy.namespace);
        if (hosts.length === 0) continue;
        const resolve = (d: HTTPRoute['mirror'] & object) => {
          const r = resolveDestination(snapshot, d, vs.metadata.namespace);
          destinations.set(r.clusterName, r);
          return r;
        };
        const envoyRoutes = buildEnvoyRoutes(vs.spec.http ?? [], vs, gwRef, port, proxy, resolve);
        const vsRef = `${vs.metadata.namespace}/${vs.metadata.name}`;
        for (const host of hosts) {
          const existing = vhosts.get(host);
          if (existing) {
            // Istio merges several VirtualServices for one host on a gateway in creation order.
            if (existing.owner !== vsRef) notes.push(`host ${host} on ${routeName}: VirtualService ${vsRef} merged after ${existing.owner}`);
            existing.routes.push(...envoyRoutes);
            existing.requireTls ||= !!s.server.tls?.httpsRedirect;
          } else {
            vhosts.set(host, { routes: [...envoyRoutes], requireTls: !!s.server.tls?.httpsRedirect, owner: vsRef, port });
          }
        }
      }
    }
    // An httpsRedirect server redirects every host it declares, bound VirtualService or not.
    for (const s of servers) {
      if (!s.server.tls?.httpsRedirect) continue;
      for (const sh of s.server.hosts) {
        const host = sh.includes('/') ? sh.slice(sh.indexOf('/') + 1) : sh;
        const v = vhosts.get(host);
        if (v) v.requireTls = true;
        else vhosts.set(host, { routes: [], requireTls: true, owner: gatewayRef(s.gateway), port: s.server.port.number });
      }
    }
    const virtualHosts = [...vhosts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([host, v]) => ({
      name: `${host}:${v.port}`,
      domains: vhostDomains(host, v.port),
      routes: v.routes,
      ...(v.requireTls ? { requireTls: 'ALL' } : {}),
      includeRequestAttemptCount: true,
    }));
    routes.push({ name: routeName, value: { name: routeName, virtualHosts, validateClusters: { value: false }, ignorePortInHostMatching: true } });
  }
  return { routes, destinations: [...destinations.values()].sort((a, b) => a.clusterName.localeCompare(b.clusterName)), notes };
}
