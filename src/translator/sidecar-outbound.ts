/**
 * A sidecar's outbound side, as Istio builds it: virtualOutbound on 15001 hands captured
 * connections (by original destination) to per-port listeners: 0.0.0.0_PORT with RDS "PORT" for
 * HTTP services, VIP_PORT with tcp_proxy for TCP services (CIDR and address-less ServiceEntry
 * ports: outbound-wildcard-tcp.ts); the rest goes to PassthroughCluster (ALLOW_ANY; the Sidecar's
 * egressProxy when set) or BlackHoleCluster (REGISTRY_ONLY).
 */
import type { VirtualService } from '../api/index.js';
import { hostMatches, hostSpecificity, resolveShortName } from '../registry/hosts.js';
import type { ConfigSnapshot, MeshService, ServicePort } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { outboundClusterName } from './destinations.js';
import { BLACKHOLE_CLUSTER } from './clusters.js';
import { httpConnectionManager } from './http-connection-manager.js';
import { buildHttpRoutes, MAX_DIRECT_RESPONSE_BODY } from './http-routes.js';
import { defaultRetryPolicy, hoistRetryPolicy } from './route-policies.js';
import type { SidecarScope } from './scope.js';
import { tcpProxyFilter } from './tcp-proxy.js';
import { TLS_INSPECTOR, WildcardTcpChains } from './outbound-wildcard-tcp.js';
import { buildTcpRouteChains, buildTlsRouteChains, matchesOnSni } from './outbound-l4-routes.js';
import type { NamedResource } from './types.js';
import { compareStrings } from './ordering.js';

type Obj = Record<string, unknown>;

export const PASSTHROUGH = 'PassthroughCluster';
export const BLACKHOLE = BLACKHOLE_CLUSTER;
const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

export function isHttpPort(p: ServicePort): boolean {
  return HTTP_PROTOCOLS.has(p.protocol);
}

/**
 * The domains Istio gives a service's virtual host, as seen from the proxy's namespace. Sidecars
 * match hosts ignoring the port (their route configurations set ignorePortInHostMatching, as
 * Istio's do), so they get each name once; proxyless gRPC clients match `name:port` as well
 * (`withPorts`).
 */
export function serviceDomains(svc: MeshService, port: number, proxyNamespace: string, domainSuffix: string, withPorts = true): string[] {
  const names = [svc.hostname];
  const k8sSuffix = `.svc.${domainSuffix}`;
  if (svc.source === 'kubernetes' && svc.hostname.endsWith(k8sSuffix)) {
    const nameNs = svc.hostname.slice(0, -k8sSuffix.length);
    names.push(`${nameNs}.svc`, nameNs);
    if (svc.namespace === proxyNamespace) names.push(svc.name);
  }
  names.push(...svc.addresses.filter((a) => !a.includes('/')));
  return withPorts ? names.flatMap((n) => [n, `${n}:${port}`]) : names;
}

/** The VirtualService (mesh) that owns a host: exact host first, then the most specific wildcard. */
export function owningVirtualService(vss: readonly VirtualService[], host: string, domainSuffix: string): VirtualService | undefined {
  let best: { vs: VirtualService; score: number } | undefined;
  for (const vs of vss) {
    for (const h of vs.spec.hosts ?? []) {
      const fq = resolveShortName(h, vs.metadata.namespace, domainSuffix);
      if (!hostMatches(fq, host)) continue;
      const score = hostSpecificity(fq);
      if (!best || score > best.score) best = { vs, score };
    }
  }
  return best?.vs;
}

export interface OutboundResult {
  listeners: NamedResource[];
  routes: NamedResource[];
  /** The HTTP services' virtual hosts, by `host|port`, with what each was built from (for a later build's `earlier`). */
  virtualHosts: Map<string, VirtualHostBuild>;
}

/** One service port's virtual host in a sidecar's outbound route configuration, and the VirtualService it was built from. */
export interface VirtualHostBuild {
  vs: VirtualService | undefined;
  vhost: Obj;
}

/** The final form of a virtual host whose domains no other virtual host took (see the dedupe below): one per built object. */
const finalVhosts = new WeakMap<Obj, Obj>();

const TLS_PROTOCOLS = new Set(['TLS', 'HTTPS']);

/**
 * `earlier`: the virtual hosts of a build for a proxy with the same outbound key (namespace,
 * labels read, DNS domain) from a snapshot where nothing a virtual host reads differed but
 * VirtualService objects (see TranslationMemo): a service port's virtual host is then reused as it
 * is when its owning VirtualService is the same object, so a VirtualService change rebuilds the
 * virtual hosts of that VirtualService's hosts only.
 */
export function buildSidecarOutbound(snapshot: ConfigSnapshot, proxy: ProxyInfo, scope: SidecarScope, earlier?: ReadonlyMap<string, VirtualHostBuild>): OutboundResult {
  const listeners: NamedResource[] = [];
  const routes: NamedResource[] = [];
  const virtualHosts = new Map<string, VirtualHostBuild>();
  const httpPorts = new Map<number, Obj[]>();
  const suffix = snapshot.mesh.domainSuffix;

  const wildcardTcp = new WildcardTcpChains();
  for (const svc of scope.services) {
    for (const port of scope.portsOf(svc)) {
      const vs = owningVirtualService(scope.virtualServices, svc.hostname, suffix);
      if (isHttpPort(port)) {
        const key = `${svc.hostname}|${port.port}`;
        const before = earlier?.get(key);
        let vhost: Obj;
        if (before && before.vs === vs) {
          vhost = before.vhost;
        } else {
          const vsRoutes = vs ? buildHttpRoutes(vs.spec.http ?? [], { snapshot, proxy, vs, listenerPort: port.port, isTls: false, gateways: new Set(['mesh']) }) : [];
          const routesForHost = vs ? vsRoutes : [{
            name: 'default',
            match: { prefix: '/' },
            route: { cluster: outboundClusterName(port.port, '', svc.hostname), timeout: { seconds: 0, nanos: 0 }, maxGrpcTimeout: { seconds: 0, nanos: 0 }, retryPolicy: defaultRetryPolicy() },
          }];
          vhost = { name: `${svc.hostname}:${port.port}`, domains: serviceDomains(svc, port.port, proxy.namespace, suffix, false), routes: routesForHost, includeRequestAttemptCount: true };
        }
        virtualHosts.set(key, { vs, vhost });
        const vhosts = httpPorts.get(port.port) ?? [];
        vhosts.push(vhost);
        httpPorts.set(port.port, vhosts);
      } else if (port.protocol !== 'UDP') {
        // The VirtualService's tcp / tls routes (outbound-l4-routes.ts), else the service's own cluster.
        const cluster = outboundClusterName(port.port, '', svc.hostname);
        const fallback = tcpProxyFilter(cluster, { cluster });
        const chains = TLS_PROTOCOLS.has(port.protocol)
          ? buildTlsRouteChains(snapshot, proxy, vs, port.port, fallback)
          : buildTcpRouteChains(snapshot, proxy, vs, port.port, fallback);
        // CIDR / address-less services share the wildcard listener: the chain without runtime match.
        wildcardTcp.add(svc, port, (chains.find((c) => !c.filterChainMatch) ?? chains[0]).filters[0]);
        for (const vip of svc.addresses.filter((a) => !a.includes('/'))) {
          const name = `${vip}_${port.port}`;
          listeners.push({ name, value: {
            name, address: { socketAddress: { address: vip, portValue: port.port } }, bindToPort: { value: false }, trafficDirection: 'OUTBOUND',
            ...(matchesOnSni(chains) ? { listenerFilters: [TLS_INSPECTOR] } : {}),
            filterChains: chains,
          } });
        }
      }
    }
  }

  const registryOnly = scope.outboundPolicy === 'REGISTRY_ONLY';
  for (const [port, vhosts] of [...httpPorts.entries()].sort(([a], [b]) => a - b)) {
    const name = String(port);
    const seen = new Set<string>();
    // A domain goes to the first virtual host (by name) that has it; one that keeps all of its
    // domains has one final form, made once (reused virtual hosts then stay the same objects).
    const deduped: Obj[] = vhosts.sort((a, b) => compareStrings(String(a.name), String(b.name))).map((vh) => {
      const all = vh.domains as string[];
      const domains = all.filter((d) => !seen.has(d) && seen.add(d));
      if (domains.length < all.length) return hoistRetryPolicy({ ...vh, domains });
      let final = finalVhosts.get(vh);
      if (!final) finalVhosts.set(vh, (final = hoistRetryPolicy(vh)));
      return final;
    });
    deduped.push(passthroughVhost(registryOnly, scope.egressProxy?.cluster));
    routes.push({ name, value: outboundRouteConfig(name, deduped) });
    const lname = `0.0.0.0_${port}`;
    listeners.push({ name: lname, value: {
      name: lname, address: { socketAddress: { address: '0.0.0.0', portValue: port } }, bindToPort: { value: false }, trafficDirection: 'OUTBOUND',
      filterChains: [{ filters: [httpConnectionManager(`outbound_0.0.0.0_${port}`, name, { useRemoteAddress: false })] }],
    } });
  }
  // Sidecar egress listeners with an explicit port: bound for real when captureMode is NONE (no
  // iptables needed: the app calls bind:port, or the unix socket bind "unix:///path", directly),
  // else reached through capture like the rest.
  for (const l of scope.sidecar?.spec.egress ?? []) {
    if (!l.port) continue;
    const unix = l.bind?.startsWith('unix://') ?? false;
    const none = l.captureMode === 'NONE' || unix;
    const bind = l.bind ?? (none ? '127.0.0.1' : '0.0.0.0');
    const name = unix ? bind : `${bind}_${l.port.number}`;
    const routeName = String(l.port.number);
    const existing = listeners.find((x) => x.name === name);
    if (existing) {
      existing.value.bindToPort = { value: none };
      continue;
    }
    const http = HTTP_PROTOCOLS.has((l.port.protocol ?? 'TCP').toUpperCase());
    if (!http) continue;
    if (!routes.some((r) => r.name === routeName)) {
      routes.push({ name: routeName, value: outboundRouteConfig(routeName, [passthroughVhost(registryOnly, scope.egressProxy?.cluster)]) });
    }
    const address = unix ? { pipe: { path: bind.slice('unix://'.length) } } : { socketAddress: { address: bind, portValue: l.port.number } };
    listeners.push({ name, value: {
      name, address, ...(unix ? {} : { bindToPort: { value: none } }), trafficDirection: 'OUTBOUND',
      filterChains: [{ filters: [httpConnectionManager(unix ? `outbound_unix_${l.port.number}` : `outbound_${bind}_${l.port.number}`, routeName, { useRemoteAddress: false })] }],
    } });
  }
  const catchAll = () => catchAllTcpFilter(scope);
  wildcardTcp.addTo(listeners, catchAll);
  listeners.push({ name: 'virtualOutbound', value: {
    name: 'virtualOutbound', address: { socketAddress: { address: '0.0.0.0', portValue: 15001 } }, useOriginalDst: { value: true }, trafficDirection: 'OUTBOUND',
    filterChains: [{ name: 'virtualOutbound-catchall-tcp', filters: [catchAll()] }],
  } });
  return { listeners, routes, virtualHosts };
}

/**
 * An outbound route configuration as Istio makes it: hosts matched without their port, direct
 * responses up to 1 MiB (Envoy's default limit is 4 KiB), clusters not validated.
 */
function outboundRouteConfig(name: string, virtualHosts: Obj[]): Obj {
  return { name, virtualHosts, validateClusters: { value: false }, ignorePortInHostMatching: true, maxDirectResponseBodySizeBytes: { value: MAX_DIRECT_RESPONSE_BODY } };
}

/** The TCP catch-all: BlackHoleCluster (REGISTRY_ONLY), the egress proxy's cluster when set, else PassthroughCluster. */
function catchAllTcpFilter(scope: SidecarScope): Obj {
  const cluster = scope.outboundPolicy === 'REGISTRY_ONLY' ? BLACKHOLE : scope.egressProxy?.cluster ?? PASSTHROUGH;
  return tcpProxyFilter(cluster, { cluster });
}

const catchAllVhosts = new Map<string, Obj>();

/**
 * The catch-all virtual host: pass through (ALLOW_ANY; to the egress proxy when set) or answer 502
 * (REGISTRY_ONLY). One object per kind (translator output is never changed once made), bounded.
 */
function passthroughVhost(registryOnly: boolean, egressProxyCluster?: string): Obj {
  const key = `${registryOnly}|${egressProxyCluster ?? ''}`;
  let vh = catchAllVhosts.get(key);
  if (!vh) {
    if (catchAllVhosts.size >= 1000) catchAllVhosts.clear();
    catchAllVhosts.set(key, (vh = makePassthroughVhost(registryOnly, egressProxyCluster)));
  }
  return vh;
}

function makePassthroughVhost(registryOnly: boolean, egressProxyCluster?: string): Obj {
  return {
    name: registryOnly ? 'block_all' : 'allow_any', domains: ['*'], includeRequestAttemptCount: true,
    routes: [registryOnly
      ? { name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502 } }
      : { name: 'allow_any', match: { prefix: '/' }, route: { cluster: egressProxyCluster ?? PASSTHROUGH, timeout: { seconds: 0, nanos: 0 } } }],
  };
}
