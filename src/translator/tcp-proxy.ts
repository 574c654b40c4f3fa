/** The tcp_proxy network filter for TCP/TLS routes: one cluster, or weighted clusters, as Istio builds it. */
import type { RouteDestination, VirtualService } from '../api/index.js';
import type { ConfigSnapshot } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { resolveDestination } from './destinations.js';
import { protoDuration } from './durations.js';

type Obj = Record<string, unknown>;

export const TCP_PROXY_FILTER = 'envoy.filters.network.tcp_proxy';

export function tcpProxyFilter(statPrefix: string, target: { cluster: string } | { weightedClusters: Obj }, extra: Obj = {}): Obj {
  return {
    name: TCP_PROXY_FILTER,
    typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', statPrefix, ...target, ...extra },
  };
}

/**
 * tcp_proxy for a TCP or TLS route's destinations: a single destination is its cluster (stat prefix =
 * cluster name); several are weighted clusters without the zero weights (stat prefix NAME.NAMESPACE
 * of the VirtualService). Idle timeout and max connection duration come from the first
 * destination's DestinationRule.
 */
export function buildRouteTcpProxy(snapshot: ConfigSnapshot, proxy: ProxyInfo, routes: readonly RouteDestination[], vs: VirtualService, listenerPort: number): Obj {
  const resolved = routes.map((r) => ({ weight: r.weight ?? 0, d: resolveDestination(snapshot, r.destination, vs.metadata.namespace, listenerPort) }));
  const first = resolved[0].d;
  const dr = snapshot.destinationRuleFor(first.host, proxy.namespace, first.service?.namespace, proxy.labels);
  const tcp = dr?.spec.trafficPolicy?.connectionPool?.tcp;
  const extra: Obj = {};
  if (tcp?.idleTimeout) extra.idleTimeout = protoDuration(tcp.idleTimeout);
  if (tcp?.maxConnectionDuration) extra.maxDownstreamConnectionDuration = protoDuration(tcp.maxConnectionDuration);
  if (dr?.spec.trafficPolicy?.loadBalancer?.consistentHash?.useSourceIp) extra.hashPolicy = [{ sourceIp: {} }];
  if (resolved.length === 1) return tcpProxyFilter(first.clusterName, { cluster: first.clusterName }, extra);
  const clusters = resolved.filter((r) => r.weight > 0).map((r) => ({ name: r.d.clusterName, weight: r.weight }));
  return tcpProxyFilter(`${vs.metadata.name}.${vs.metadata.namespace}`, { weightedClusters: { clusters } }, extra);
}
