/**
 * Outbound clusters, as Istio builds them for every visible service: per service port (UDP aside)
 * outbound|PORT||HOST plus outbound|PORT|SUBSET|HOST for each subset of the DestinationRule that
 * applies, with the DestinationRule's traffic policy (subset overrides top level, port-level
 * settings replace a level's settings). EDS for registry services, STRICT_DNS / LOGICAL_DNS with
 * inline endpoints for DNS ServiceEntries, ORIGINAL_DST for resolution NONE.
 */
import type { ConnectionPoolSettings, DestinationRule, LoadBalancerSettings, OutlierDetection, TrafficPolicy } from '../api/index.js';
import type { ConfigSnapshot, MeshService, ServicePort } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { configPath, refOf } from './config-metadata.js';
import { outboundClusterName, type ResolvedDestination } from './destinations.js';
import { protoDuration } from './durations.js';
import { buildLoadAssignment, type LocalityContext } from './endpoints.js';
import { adsConfigSource } from './http-connection-manager.js';
import { usesLocalityWeights } from './locality-lb.js';
import { buildUpstreamTls, type CredentialLookup } from './upstream-tls.js';
import { caSecretFor, certificateSecretFor } from './secrets.js';
import type { NamedResource } from './types.js';

type Obj = Record<string, unknown>;

const MAX = 4294967295;
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';

type PolicyPart = Pick<TrafficPolicy, 'connectionPool' | 'outlierDetection' | 'loadBalancer' | 'tls' | 'proxyProtocol'>;

function portLevel(policy: TrafficPolicy | undefined, port: number): PolicyPart | undefined {
  const pl = policy?.portLevelSettings?.find((p) => p.port?.number === port);
  // Port-level settings do not inherit: they replace the level's four settings.
  return pl ? { connectionPool: pl.connectionPool, outlierDetection: pl.outlierDetection, loadBalancer: pl.loadBalancer, tls: pl.tls } : undefined;
}

/** Istio's MergeTrafficPolicy for a port and subset. */
export function effectivePolicy(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): PolicyPart {
  // proxyProtocol has no port-level form: the subset's, else the top level's.
  const proxyProtocol = subset?.proxyProtocol ?? top?.proxyProtocol;
  const part = mergedParts(top, subset, port);
  return proxyProtocol ? { ...part, proxyProtocol } : part;
}

function mergedParts(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): PolicyPart {
  const base: PolicyPart = portLevel(top, port) ?? { connectionPool: top?.connectionPool, outlierDetection: top?.outlierDetection, loadBalancer: top?.loadBalancer, tls: top?.tls };
  if (!subset) return base;
  const merged: PolicyPart = {
    connectionPool: subset.connectionPool ?? base.connectionPool,
    outlierDetection: subset.outlierDetection ?? base.outlierDetection,
    loadBalancer: subset.loadBalancer ?? base.loadBalancer,
    tls: subset.tls ?? base.tls,
  };
  return portLevel(subset, port) ?? merged;
}

/** Warm-up of new endpoints (Envoy slow start): `warmup` (window, minimum percent, aggression) or the older `warmupDurationSecs`. */
function slowStart(lb: LoadBalancerSettings | undefined): Obj | undefined {
  const w = lb?.warmup;
  if (w) {
    return {
      slowStartWindow: protoDuration(w.duration),
      ...(w.aggression !== undefined ? { aggression: { defaultValue: w.aggression, runtimeKey: 'upstream.warmup.aggression' } } : {}),
      ...(w.minimumPercent !== undefined ? { minWeightPercent: { value: w.minimumPercent } } : {}),
    };
  }
  return lb?.warmupDurationSecs ? { slowStartWindow: protoDuration(lb.warmupDurationSecs) } : undefined;
}

function loadBalancing(lb: LoadBalancerSettings | undefined): Obj {
  const out: Obj = {};
  switch (lb?.simple) {
    case 'RANDOM': out.lbPolicy = 'RANDOM'; break;
    case 'ROUND_ROBIN': out.lbPolicy = 'ROUND_ROBIN'; break;
    // Istio's default is LEAST_REQUEST.
    default: out.lbPolicy = 'LEAST_REQUEST';
  }
  const slowStartConfig = slowStart(lb);
  if (slowStartConfig && (out.lbPolicy === 'ROUND_ROBIN' || out.lbPolicy === 'LEAST_REQUEST')) {
    const slowStart = { slowStartConfig };
    if (out.lbPolicy === 'ROUND_ROBIN') out.roundRobinLbConfig = slowStart;
    else out.leastRequestLbConfig = slowStart;
  }
  const ch = lb?.consistentHash;
  if (ch) {
    if (ch.maglev) {
      out.lbPolicy = 'MAGLEV';
      if (ch.maglev.tableSize) out.maglevLbConfig = { tableSize: { value: ch.maglev.tableSize } };
    } else {
      out.lbPolicy = 'RING_HASH';
      const size = ch.ringHash ? ch.ringHash.minimumRingSize : ch.minimumRingSize || 1024;
      if (size) out.ringHashLbConfig = { minimumRingSize: { value: size } };
    }
    delete out.roundRobinLbConfig;
    delete out.leastRequestLbConfig;
  }
  return out;
}

export function circuitBreakers(cp: ConnectionPoolSettings | undefined): Obj {
  const positive = (v: number | undefined) => (v !== undefined && v > 0 ? v : MAX);
  return {
    thresholds: [{
      maxConnections: { value: positive(cp?.tcp?.maxConnections) },
      maxPendingRequests: { value: positive(cp?.http?.http1MaxPendingRequests) },
      maxRequests: { value: positive(cp?.http?.http2MaxRequests) },
      maxRetries: { value: positive(cp?.http?.maxRetries) },
      trackRemaining: true,
    }],
  };
}

function outlierDetection(od: OutlierDetection): Obj {
  const out: Obj = { enforcingSuccessRate: { value: 0 } };
  const c5xx = od.consecutive5xxErrors ?? od.consecutiveErrors;
  if (c5xx !== undefined) {
    out.consecutive_5xx = { value: c5xx };
    out.enforcingConsecutive_5xx = { value: c5xx > 0 ? 100 : 0 };
  }
  if (od.consecutiveGatewayErrors !== undefined) {
    out.consecutiveGatewayFailure = { value: od.consecutiveGatewayErrors };
    out.enforcingConsecutiveGatewayFailure = { value: od.consecutiveGatewayErrors > 0 ? 100 : 0 };
  }
  if (od.interval) out.interval = protoDuration(od.interval);
  if (od.baseEjectionTime) out.baseEjectionTime = protoDuration(od.baseEjectionTime);
  if (od.maxEjectionPercent) out.maxEjectionPercent = { value: od.maxEjectionPercent };
  if (od.splitExternalLocalOriginErrors) {
    out.splitExternalLocalOriginErrors = true;
    if (od.consecutiveLocalOriginFailures) {
      out.consecutiveLocalOriginFailure = { value: od.consecutiveLocalOriginFailures };
      out.enforcingConsecutiveLocalOriginFailure = { value: 100 };
    }
    out.enforcingLocalOriginSuccessRate = { value: 0 };
  }
  return out;
}

function isHttp2(port: ServicePort | undefined, cp: ConnectionPoolSettings | undefined): boolean {
  const policy = cp?.http?.h2UpgradePolicy;
  if (policy === 'UPGRADE') return true;
  if (policy === 'DO_NOT_UPGRADE') return false;
  return port?.protocol === 'HTTP2' || port?.protocol === 'GRPC' || port?.protocol === 'GRPC-WEB';
}

export function httpProtocolOptions(port: ServicePort | undefined, cp: ConnectionPoolSettings | undefined): Obj | undefined {
  const tcp = cp?.tcp;
  const http = cp?.http;
  const common: Obj = {};
  const idle = http?.idleTimeout ?? tcp?.idleTimeout;
  if (idle) common.idleTimeout = protoDuration(idle);
  if (http?.maxRequestsPerConnection) common.maxRequestsPerConnection = { value: http.maxRequestsPerConnection };
  if (tcp?.maxConnectionDuration) common.maxConnectionDuration = protoDuration(tcp.maxConnectionDuration);
  const h2 = isHttp2(port, cp);
  if (!h2 && !http?.useClientProtocol && Object.keys(common).length === 0) return undefined;
  const explicit = http?.useClientProtocol
    ? { useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} } }
    : { explicitHttpConfig: h2 ? { http2ProtocolOptions: http?.maxConcurrentStreams ? { maxConcurrentStreams: { value: http.maxConcurrentStreams } } : {} } : { httpProtocolOptions: {} } };
  return {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      ...(Object.keys(common).length ? { commonHttpProtocolOptions: common } : {}),
      ...explicit,
    },
  };
}

function tcpKeepalive(cp: ConnectionPoolSettings | undefined): Obj | undefined {
  const ka = cp?.tcp?.tcpKeepalive;
  if (!ka) return undefined;
  return { tcpKeepalive: {
    ...(ka.probes !== undefined ? { keepaliveProbes: { value: ka.probes } } : {}),
    ...(ka.time ? { keepaliveTime: { value: protoDuration(ka.time).seconds } } : {}),
    ...(ka.interval ? { keepaliveInterval: { value: protoDuration(ka.interval).seconds } } : {}),
  } };
}

function dnsEndpoints(d: ResolvedDestination): Obj[] {
  const svc = d.service!;
  const portName = d.servicePort?.name ?? '';
  const eps = svc.endpoints.length > 0 ? svc.endpoints : [{ address: svc.hostname, ports: {} as Record<string, number>, weight: 1 }];
  return [{ lbEndpoints: eps.map((e) => ({
    endpoint: { address: { socketAddress: { address: e.address, portValue: e.ports[portName] ?? d.servicePort?.targetPort ?? d.port } } },
    loadBalancingWeight: { value: e.weight },
  })) }];
}

/** What locality load balancing of a destination's ClusterLoadAssignment needs for one proxy (its DestinationRule's setting). */
export function localityContextFor(d: ResolvedDestination, dr: DestinationRule | undefined, proxy: ProxyInfo): LocalityContext {
  const policy = policyFor(d, dr);
  return { proxy, setting: policy.loadBalancer?.localityLbSetting, outlierDetection: !!policy.outlierDetection };
}

function policyFor(d: ResolvedDestination, dr: DestinationRule | undefined): PolicyPart {
  const subset = dr?.spec.subsets?.find((s) => s.name === d.subset);
  return effectivePolicy(dr?.spec.trafficPolicy, subset?.trafficPolicy, d.port);
}

/**
 * The cluster for one service port and subset (the DestinationRule passed is the one that applies).
 * With the proxy, a locality `distribute` rule that applies to it turns on locality-weighted LB.
 */
export function buildOutboundCluster(d: ResolvedDestination, dr: DestinationRule | undefined, proxy?: ProxyInfo, credentials?: CredentialLookup): NamedResource {
  const svc: MeshService | undefined = d.service;
  const policy = policyFor(d, dr);
  const cp = policy.connectionPool;
  const c: Obj = {
    name: d.clusterName,
    connectTimeout: protoDuration(cp?.tcp?.connectTimeout ?? '10s'),
    ...loadBalancing(policy.loadBalancer),
    circuitBreakers: circuitBreakers(cp),
    commonLbConfig: {},
    // As Istio: the services, the subset, and the DestinationRule that shaped the cluster (its config path).
    metadata: { filterMetadata: { istio: {
      services: [{ host: d.host, name: svc?.name ?? d.host, namespace: svc?.namespace ?? '' }],
      ...(d.subset ? { subset: d.subset } : {}),
      ...(svc?.location === 'MESH_EXTERNAL' ? { external: true } : {}),
      ...(dr ? { config: configPath(refOf('DestinationRule', dr)) } : {}),
    } } },
  };
  const resolution = svc?.resolution ?? 'STATIC';
  if (resolution === 'NONE' || policy.loadBalancer?.simple === 'PASSTHROUGH') {
    // Connect to wherever the client was going (Istio: ORIGINAL_DST).
    c.type = 'ORIGINAL_DST';
    c.lbPolicy = 'CLUSTER_PROVIDED';
  } else if (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') {
    c.type = resolution === 'DNS' ? 'STRICT_DNS' : 'LOGICAL_DNS';
    c.dnsLookupFamily = 'V4_ONLY';
    c.dnsRefreshRate = { seconds: 60, nanos: 0 };
    c.respectDnsTtl = true;
    c.loadAssignment = { clusterName: d.clusterName, endpoints: dnsEndpoints(d) };
  } else {
    c.type = 'EDS';
    c.edsClusterConfig = { edsConfig: adsConfigSource(), serviceName: d.clusterName };
  }
  if (policy.outlierDetection) {
    c.outlierDetection = outlierDetection(policy.outlierDetection);
    // Istio disables the panic threshold (minHealthPercent, default 0) with outlier detection.
    const min = policy.outlierDetection.minHealthPercent ?? 0;
    if (min >= 0) c.commonLbConfig = { healthyPanicThreshold: { value: min } };
  }
  if (usesLocalityWeights(proxy, policy.loadBalancer?.localityLbSetting)) c.commonLbConfig = { ...(c.commonLbConfig as Obj), localityWeightedLbConfig: {} };
  const hpo = httpProtocolOptions(d.servicePort, cp);
  if (hpo) c.typedExtensionProtocolOptions = hpo;
  const ka = tcpKeepalive(cp);
  if (ka) c.upstreamConnectionOptions = ka;
  const tls = buildUpstreamTls(policy.tls, d.host, svc, credentials);
  const socket = policy.proxyProtocol ? withProxyProtocol(policy.proxyProtocol.version ?? 'V1', tls) : tls;
  if (socket) c.transportSocket = socket;
  return { name: d.clusterName, value: c };
}

/**
 * DestinationRule proxyProtocol: Envoy writes a PROXY protocol header (V1 text or V2 binary) with
 * the client's addresses before anything else on each upstream connection, then speaks TLS if the
 * policy originates it, else plain bytes.
 */
function withProxyProtocol(version: 'V1' | 'V2', inner: Obj | undefined): Obj {
  return {
    name: 'envoy.transport_sockets.upstream_proxy_protocol',
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport',
      config: { version },
      transportSocket: inner ?? { name: 'envoy.transport_sockets.raw_buffer', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } },
    },
  };
}

export interface ServiceClusters {
  clusters: NamedResource[];
  /** One ClusterLoadAssignment per EDS cluster. */
  endpoints: NamedResource[];
  /** SDS Secrets the clusters reference (gateways: DestinationRule tls credentialName). */
  secrets: NamedResource[];
}

/**
 * Every destination a proxy gets a cluster for: each port (UDP aside) of each service, unsubsetted
 * and per subset of the DestinationRule that applies to this proxy (returned with it).
 */
export function* serviceDestinations(snapshot: ConfigSnapshot, proxy: ProxyInfo, services: readonly MeshService[]): Generator<{ d: ResolvedDestination; dr: DestinationRule | undefined }> {
  for (const svc of services) {
    const dr = snapshot.destinationRuleFor(svc.hostname, proxy.namespace, svc.namespace, proxy.labels);
    for (const port of svc.ports) {
      if (port.protocol === 'UDP') continue;
      for (const subset of ['', ...(dr?.spec.subsets ?? []).map((s) => s.name)]) {
        yield { d: { host: svc.hostname, port: port.port, subset, clusterName: outboundClusterName(port.port, subset, svc.hostname), service: svc, servicePort: port }, dr };
      }
    }
  }
}

/** Clusters (and CLAs) for every port (UDP aside) and DestinationRule subset of the given services. */
export function buildServiceClusters(snapshot: ConfigSnapshot, proxy: ProxyInfo, services: readonly MeshService[]): ServiceClusters {
  const clusters: NamedResource[] = [];
  const endpoints: NamedResource[] = [];
  const secrets = new Map<string, NamedResource>();
  // Gateways read DestinationRule credentialName Secrets from their own namespace; sidecars never do (as Istio).
  const credentials: CredentialLookup | undefined = proxy.type !== 'router' ? undefined : (name) => {
    const cert = certificateSecretFor(snapshot, proxy.namespace, name);
    const ca = caSecretFor(snapshot, proxy.namespace, name);
    for (const s of [cert, ca]) if (s) secrets.set(s.name, s);
    return { cert: !!cert, ca: !!ca };
  };
  for (const { d, dr } of serviceDestinations(snapshot, proxy, services)) {
    const c = buildOutboundCluster(d, dr, proxy, credentials);
    clusters.push(c);
    if (c.value.type !== 'EDS') continue;
    endpoints.push(buildLoadAssignment(d, dr, localityContextFor(d, dr, proxy)));
  }
  return { clusters, endpoints, secrets: [...secrets.values()] };
}

/** Istio's BlackHoleCluster: a cluster without endpoints (connections to it fail). */
export function blackHoleCluster(): NamedResource {
  return { name: BLACKHOLE_CLUSTER, value: { name: BLACKHOLE_CLUSTER, type: 'STATIC', connectTimeout: { seconds: 10, nanos: 0 } } };
}
