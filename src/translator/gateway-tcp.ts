/**
 * Gateway servers that proxy TCP: opaque TCP servers and TLS-terminating non-HTTP servers forward
 * to the first matching VirtualService `tcp` route; TLS PASSTHROUGH servers get a filter chain per
 * matching `tls` route match, selected by SNI, without terminating TLS; AUTO_PASSTHROUGH servers
 * get a filter chain per outbound cluster, selected by the SNI Istio's clients send across networks
 * (outbound_.PORT_.SUBSET_.HOST), without any VirtualService.
 */
import type { VirtualService } from '../api/index.js';
import { hostMatches, intersectHosts } from '../registry/hosts.js';
import type { ConfigSnapshot } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { isVirtualServiceVisible, serverHostFor, serverHostName, virtualServiceHosts } from './host-matching.js';
import type { GatewayServer } from './gateway-servers.js';
import { buildRouteTcpProxy, tcpProxyFilter } from './tcp-proxy.js';
import { compareStrings } from './ordering.js';

type Obj = Record<string, unknown>;

/** Does any server host admit one of the VirtualService's hosts (namespace scoping + wildcard match)? */
export function virtualServiceMatchesServer(s: GatewayServer, vs: VirtualService, domainSuffix: string): boolean {
  const vsHosts = virtualServiceHosts(vs, domainSuffix);
  return s.server.hosts.some((sh) => {
    const host = serverHostFor(sh.toLowerCase(), s.gateway.metadata.namespace, vs.metadata.namespace);
    return host !== undefined && vsHosts.some((vh) => intersectHosts(host, vh) !== undefined);
  });
}

/** L4 match on a gateway: port (the server port) and gateways ("namespace/name"; short names in the VirtualService namespace). */
function l4Matches(m: { port?: number; gateways?: string[] }, s: GatewayServer, vsNamespace: string): boolean {
  if (m.port !== undefined && m.port !== s.server.port.number) return false;
  if (!m.gateways?.length) return true;
  return m.gateways.some((g) => (g.includes('/') ? g : `${vsNamespace}/${g}`) === s.gatewayRef);
}

function boundVirtualServices(snapshot: ConfigSnapshot, proxy: ProxyInfo, s: GatewayServer): VirtualService[] {
  return snapshot.virtualServicesForGateway(s.gatewayRef).filter((vs) => isVirtualServiceVisible(vs, proxy.namespace) && virtualServiceMatchesServer(s, vs, snapshot.mesh.domainSuffix));
}

/** The tcp_proxy of a TCP (or TLS-terminating) server: the first applicable `tcp` route of the bound VirtualServices. */
export function buildTcpServerFilter(snapshot: ConfigSnapshot, proxy: ProxyInfo, s: GatewayServer): Obj | undefined {
  for (const vs of boundVirtualServices(snapshot, proxy, s)) {
    for (const r of vs.spec.tcp ?? []) {
      const applies = !r.match?.length || r.match.some((m) => l4Matches(m, s, vs.metadata.namespace));
      if (applies && r.route?.length) return buildRouteTcpProxy(snapshot, proxy, r.route, vs, s.server.port.number);
    }
  }
  return undefined;
}

export interface PassthroughChains {
  chains: Obj[];
  notes: string[];
}

/**
 * Filter chains of a TLS PASSTHROUGH server: one per `tls` route match that applies, matching its
 * sniHosts. An SNI host already routed on this port is skipped (Envoy rejects duplicate matches).
 */
export function buildPassthroughChains(snapshot: ConfigSnapshot, proxy: ProxyInfo, s: GatewayServer, knownSni: Set<string>): PassthroughChains {
  const chains: Obj[] = [];
  const notes: string[] = [];
  for (const vs of boundVirtualServices(snapshot, proxy, s)) {
    (vs.spec.tls ?? []).forEach((r, ri) => {
      if (!r.route?.length) return;
      r.match.forEach((m, mi) => {
        if (!l4Matches(m, s, vs.metadata.namespace)) return;
        const sni = [...new Set(m.sniHosts.map((h) => h.toLowerCase()))].sort(compareStrings);
        const dups = sni.filter((h) => knownSni.has(h));
        if (dups.length) {
          notes.push(`VirtualService ${vs.metadata.namespace}/${vs.metadata.name} spec.tls[${ri}].match[${mi}]: SNI host(s) ${dups.join(', ')} already routed on port ${s.listenPort}; skipped`);
          return;
        }
        sni.forEach((h) => knownSni.add(h));
        const serverNames = sni.filter((h) => h !== '*');
        chains.push({
          ...(serverNames.length ? { filterChainMatch: { serverNames } } : {}),
          filters: [buildRouteTcpProxy(snapshot, proxy, r.route!, vs, s.server.port.number)],
        });
      });
    });
  }
  return { chains, notes };
}

/** The SNI an Istio client sends for a cluster outbound|PORT|SUBSET|HOST: outbound_.PORT_.SUBSET_.HOST. */
export function autoPassthroughSni(clusterName: string): string | undefined {
  const parts = clusterName.split('|');
  if (parts.length !== 4 || parts[0] !== 'outbound') return undefined;
  const [, port, subset, host] = parts;
  return `outbound_.${port}_.${subset}_.${host}`;
}

/**
 * Filter chains of an AUTO_PASSTHROUGH server: one per outbound cluster of the gateway whose host
 * a server host admits, matching the cluster's Istio SNI and forwarding the still-encrypted
 * connection to that cluster. An SNI already routed on this port is skipped.
 */
export function buildAutoPassthroughChains(s: GatewayServer, clusterNames: readonly string[], knownSni: Set<string>): Obj[] {
  const serverHosts = s.server.hosts.map((h) => serverHostName(h).toLowerCase());
  const chains: Obj[] = [];
  for (const cluster of clusterNames) {
    const sni = autoPassthroughSni(cluster);
    if (!sni || knownSni.has(sni)) continue;
    const host = cluster.split('|')[3];
    if (!serverHosts.some((h) => hostMatches(h, host))) continue;
    knownSni.add(sni);
    chains.push({ filterChainMatch: { serverNames: [sni] }, filters: [tcpProxyFilter(cluster, { cluster })] });
  }
  return chains;
}
