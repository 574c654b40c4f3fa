/** Outbound clusters (outbound|PORT|SUBSET|FQDN) with DestinationRule traffic policies applied. */
import type { ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, TrafficPolicy } from '../api/index.js';
import type { ConfigSnapshot, MeshService } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import type { ResolvedDestination } from './destinations.js';
import { protoDuration } from './durations.js';
import type { NamedResource } from './types.js';

type Obj = Record<string, unknown>;

const MAX = 4294967295;

/** The effective policy for a port and subset: subset overrides top level, port-level overrides both. */
export function effectivePolicy(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): TrafficPolicy {
  const merged: TrafficPolicy = { ...(top ?? {}), ...(subset ?? {}) };
  const pl = (subset?.portLevelSettings ?? top?.portLevelSettings ?? []).find((p) => p.port?.number === port);
  if (pl) {
    const { port: _p, ...rest } = pl;
    Object.assign(merged, Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)));
  }
  return merged;
}

function lbPolicy(lb: LoadBalancerSettings | undefined): Obj {
  if (lb?.consistentHash) return lb.consistentHash.maglev ? { lbPolicy: 'MAGLEV' } : { lbPolicy: 'RING_HASH' };
  switch (lb?.simple) {
    case 'RANDOM': return { lbPolicy: 'RANDOM' };
    case 'LEAST_REQUEST':
    case 'LEAST_CONN': return { lbPolicy: 'LEAST_REQUEST' };
    default: return { lbPolicy: 'ROUND_ROBIN' };
  }
}

function circuitBreakers(cp: ConnectionPoolSettings | undefined): Obj {
  return {
    thresholds: [{
      maxConnections: { value: cp?.tcp?.maxConnections ?? MAX },
      maxPendingRequests: { value: cp?.http?.http1MaxPendingRequests ?? MAX },
      maxRequests: { value: cp?.http?.http2MaxRequests ?? MAX },
      maxRetries: { value: cp?.http?.maxRetries ?? MAX },
      trackRemaining: true,
    }],
  };
}

function outlier(od: OutlierDetection | undefined): Obj | undefined {
  if (!od) return undefined;
  const out: Obj = {};
  const c5xx = od.consecutive5xxErrors ?? (od.consecutiveErrors !== undefined ? od.consecutiveErrors : undefined);
  if (c5xx !== undefined) {
    out.consecutive_5xx = { value: c5xx };
    out.enforcingConsecutive_5xx = { value: c5xx > 0 ? 100 : 0 };
  } else out.enforcingConsecutive_5xx = { value: 0 };
  if (od.consecutiveGatewayErrors !== undefined) {
    out.consecutiveGatewayFailure = { value: od.consecutiveGatewayErrors };
    out.enforcingConsecutiveGatewayFailure = { value: od.consecutiveGatewayErrors > 0 ? 100 : 0 };
  }
  if (od.interval) out.interval = protoDuration(od.interval);
  if (od.baseEjectionTime) out.baseEjectionTime = protoDuration(od.baseEjectionTime);
  if (od.maxEjectionPercent !== undefined) out.maxEjectionPercent = { value: od.maxEjectionPercent };
  if (od.splitExternalLocalOriginErrors) {
    out.splitExternalLocalOriginErrors = true;
    if (od.consecutiveLocalOriginFailures !== undefined) out.consecutiveLocalOriginFailure = { value: od.consecutiveLocalOriginFailures };
  }
  out.enforcingSuccessRate = { value: 0 };
  return out;
}

function isHttp2(protocol: string | undefined, cp: ConnectionPoolSettings | undefined): boolean {
  if (cp?.http?.h2UpgradePolicy === 'UPGRADE') return true;
  return protocol === 'HTTP2' || protocol === 'GRPC' || protocol === 'GRPC-WEB';
}

export function buildOutboundCluster(snapshot: ConfigSnapshot, proxy: ProxyInfo, d: ResolvedDestination): NamedResource {
  const svc: MeshService | undefined = d.service;
  const dr = snapshot.destinationRuleFor(d.host, proxy.namespace, svc?.namespace);
  const subset = dr?.spec.subsets?.find((s) => s.name === d.subset);
  const policy = effectivePolicy(dr?.spec.trafficPolicy, subset?.trafficPolicy, d.port);
  const c: Obj = {
    name: d.clusterName,
    connectTimeout: protoDuration(policy.connectionPool?.tcp?.connectTimeout ?? '10s'),
    ...lbPolicy(policy.loadBalancer),
    circuitBreakers: circuitBreakers(policy.connectionPool),
    commonLbConfig: {},
    metadata: { filterMetadata: { istio: { services: { host: d.host, name: svc?.name ?? d.host, namespace: svc?.namespace ?? '' }, ...(d.subset ? { subset: d.subset } : {}) } } },
  };
  const resolution = svc?.resolution ?? 'STATIC';
  if (resolution === 'NONE') {
    // No resolution: connect to wherever the application was going (Istio uses ORIGINAL_DST).
    c.type = 'ORIGINAL_DST';
    c.lbPolicy = 'CLUSTER_PROVIDED';
  } else if (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') {
    c.type = resolution === 'DNS' ? 'STRICT_DNS' : 'LOGICAL_DNS';
    c.dnsLookupFamily = 'V4_ONLY';
    c.loadAssignment = { clusterName: d.clusterName, endpoints: dnsEndpoints(d) };
  } else {
    c.type = 'EDS';
    c.edsClusterConfig = { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: d.clusterName };
  }
  const od = outlier(policy.outlierDetection);
  if (od) c.outlierDetection = od;
  const tcp = policy.connectionPool?.tcp;
  if (tcp?.maxConnectionDuration || tcp?.idleTimeout || policy.connectionPool?.http?.idleTimeout || policy.connectionPool?.http?.maxRequestsPerConnection || isHttp2(d.servicePort?.protocol, policy.connectionPool)) {
    const common: Obj = {};
    const idle = policy.connectionPool?.http?.idleTimeout ?? tcp?.idleTimeout;
    if (idle) common.idleTimeout = protoDuration(idle);
    if (tcp?.maxConnectionDuration) common.maxConnectionDuration = protoDuration(tcp.maxConnectionDuration);
    if (policy.connectionPool?.http?.maxRequestsPerConnection) common.maxRequestsPerConnection = { value: policy.connectionPool.http.maxRequestsPerConnection };
    const explicit = isHttp2(d.servicePort?.protocol, policy.connectionPool)
      ? { http2ProtocolOptions: policy.connectionPool?.http?.maxConcurrentStreams ? { maxConcurrentStreams: { value: policy.connectionPool.http.maxConcurrentStreams } } : {} }
      : { httpProtocolOptions: {} };
    c.typedExtensionProtocolOptions = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        ...(Object.keys(common).length ? { commonHttpProtocolOptions: common } : {}),
        explicitHttpConfig: explicit,
      },
    };
  }
  if (tcp?.tcpKeepalive) {
    c.upstreamConnectionOptions = { tcpKeepalive: {
      ...(tcp.tcpKeepalive.probes !== undefined ? { keepaliveProbes: { value: tcp.tcpKeepalive.probes } } : {}),
      ...(tcp.tcpKeepalive.time ? { keepaliveTime: { value: Math.floor(protoDuration(tcp.tcpKeepalive.time).seconds) } } : {}),
      ...(tcp.tcpKeepalive.interval ? { keepaliveInterval: { value: Math.floor(protoDuration(tcp.tcpKeepalive.interval).seconds) } } : {}),
    } };
  }
  return { name: d.clusterName, value: c };
}

function dnsEndpoints(d: ResolvedDestination): Obj[] {
  const svc = d.service!;
  const portName = d.servicePort?.name ?? '';
  const eps: ReadonlyArray<{ address: string; ports: Readonly<Record<string, number>>; weight: number }> = svc.endpoints.length > 0 ? svc.endpoints : [{ address: svc.hostname, ports: {}, weight: 1 }];
  return [{ lbEndpoints: eps.map((e) => ({
    endpoint: { address: { socketAddress: { address: e.address, portValue: e.ports[portName] ?? d.servicePort?.targetPort ?? d.port } } },
    loadBalancingWeight: { value: e.weight },
  })) }];
}
