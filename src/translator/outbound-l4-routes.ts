/**
 * A sidecar's outbound filter chains for a TCP or TLS service port from its VirtualService's `tcp`
 * / `tls` routes, as Istio builds them. Static predicates (port, gateways = "mesh", sourceLabels,
 * sourceNamespace) are decided here; runtime ones become the chain match: destinationSubnets →
 * `prefixRanges`, sniHosts → `serverNames` (the listener then needs the TLS inspector).
 * - tcp: routes in order; a route without match, or a match without destinationSubnets, is the
 *   last chain (it takes everything); subnet-only matches give a chain each; without a terminal
 *   route the service's own cluster is the default chain.
 * - tls: a chain per applicable match (the first of equal sniHosts+subnets wins); no applicable
 *   match at all → the service's own cluster, without SNI (the VIP already says which service).
 */
import type { L4MatchAttributes, RouteDestination, VirtualService } from '../api/index.js';
import type { ConfigSnapshot } from '../registry/model.js';
import { labelsMatch } from '../registry/services.js';
import type { ProxyInfo } from '../proxy/node.js';
import { cidrRange } from './outbound-wildcard-tcp.js';
import { buildRouteTcpProxy } from './tcp-proxy.js';
import { compareStrings } from './ordering.js';

type Obj = Record<string, unknown>;

/** One outbound filter chain: an optional match and its tcp_proxy filter. */
export interface L4Chain {
  filterChainMatch?: Obj;
  filters: [Obj];
}

/** Static L4 predicates for a sidecar: the listener port, gateways including "mesh", source labels and namespace. */
export function l4MatchApplies(m: L4MatchAttributes, port: number, proxy: ProxyInfo): boolean {
  return (m.port === undefined || m.port === port)
    && (!m.gateways?.length || m.gateways.includes('mesh'))
    && labelsMatch(m.sourceLabels, proxy.labels)
    && (!m.sourceNamespace || m.sourceNamespace === proxy.namespace);
}

interface Ctx { snapshot: ConfigSnapshot; proxy: ProxyInfo; vs: VirtualService; port: number }

const proxyFor = (c: Ctx, route: readonly RouteDestination[]): Obj => buildRouteTcpProxy(c.snapshot, c.proxy, route, c.vs, c.port);

function chain(filter: Obj, match: Obj): L4Chain {
  return Object.keys(match).length ? { filterChainMatch: match, filters: [filter] } : { filters: [filter] };
}

/** Appends a chain unless one with the same match is already there (Envoy rejects equal matches; the first wins). */
function pushUnique(out: L4Chain[], c: L4Chain): void {
  const key = JSON.stringify(c.filterChainMatch ?? {});
  if (!out.some((o) => JSON.stringify(o.filterChainMatch ?? {}) === key)) out.push(c);
}

/** Filter chains for a TCP service port; `fallback` is the service's own tcp_proxy. */
export function buildTcpRouteChains(snapshot: ConfigSnapshot, proxy: ProxyInfo, vs: VirtualService | undefined, port: number, fallback: Obj): L4Chain[] {
  const out: L4Chain[] = [];
  if (vs) {
    const c: Ctx = { snapshot, proxy, vs, port };
    for (const r of vs.spec.tcp ?? []) {
      if (!r.route?.length) continue;
      if (!r.match?.length) { pushUnique(out, chain(proxyFor(c, r.route), {})); return out; }
      const subnets: string[] = [];
      for (const m of r.match) {
        if (!l4MatchApplies(m, port, proxy)) continue;
        if (!m.destinationSubnets?.length) { pushUnique(out, chain(proxyFor(c, r.route), {})); return out; }
        subnets.push(...m.destinationSubnets);
      }
      if (subnets.length) pushUnique(out, chain(proxyFor(c, r.route), { prefixRanges: [...new Set(subnets)].sort(compareStrings).map(cidrRange) }));
    }
  }
  pushUnique(out, chain(fallback, {}));
  return out;
}

/** Filter chains for a TLS / HTTPS service port; `fallback` is the service's own tcp_proxy. */
export function buildTlsRouteChains(snapshot: ConfigSnapshot, proxy: ProxyInfo, vs: VirtualService | undefined, port: number, fallback: Obj): L4Chain[] {
  const out: L4Chain[] = [];
  if (vs) {
    const c: Ctx = { snapshot, proxy, vs, port };
    for (const r of vs.spec.tls ?? []) {
      if (!r.route?.length) continue;
      for (const m of r.match) {
        if (!l4MatchApplies(m, port, proxy)) continue;
        const sni = [...new Set(m.sniHosts.map((h) => h.toLowerCase()))].sort(compareStrings);
        const subnets = [...new Set(m.destinationSubnets ?? [])].sort(compareStrings);
        const serverNames = sni.includes('*') ? [] : sni;
        pushUnique(out, chain(proxyFor(c, r.route), {
          ...(serverNames.length ? { serverNames } : {}),
          ...(subnets.length ? { prefixRanges: subnets.map(cidrRange) } : {}),
        }));
      }
    }
  }
  return out.length ? out : [chain(fallback, {})];
}

/** Does any chain match on SNI (the listener then needs the TLS inspector)? */
export function matchesOnSni(chains: readonly L4Chain[]): boolean {
  return chains.some((ch) => ch.filterChainMatch?.serverNames !== undefined);
}
