/**
 * Clusters for proxyless gRPC clients, as Istio's grpcgen builds them: EDS clusters
 * outbound|PORT|SUBSET|HOST carrying only what gRPC's xDS client understands (anything else it
 * either ignores or rejects with a NACK):
 * - load balancing: ROUND_ROBIN (Istio's default for gRPC) or RING_HASH for consistentHash;
 *   gRPC has no LEAST_REQUEST, RANDOM nor MAGLEV (grpc-js NACKs them), so LEAST_REQUEST and
 *   RANDOM become ROUND_ROBIN and maglev becomes a ring hash;
 * - circuit breaking: http2MaxRequests → max_requests (gRFC A32), the only threshold gRPC reads;
 * - outlier detection: gRPC implements success-rate and failure-percentage ejection only (gRFC
 *   A50), not consecutive errors. Istio's grpcgen drops outlierDetection; meshpilot maps it to
 *   failure-percentage ejection instead so that a failing endpoint is still ejected: a host with
 *   at least consecutive5xxErrors (or consecutiveGatewayErrors) calls in an interval, more than
 *   85 % of them failed (Envoy's default failure_percentage_threshold), is ejected for
 *   baseEjectionTime, up to maxEjectionPercent of the hosts.
 */
import type { DestinationRule, LoadBalancerSettings, OutlierDetection } from '../api/index.js';
import type { ConfigSnapshot, MeshService } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { effectivePolicy, serviceDestinations } from './clusters.js';
import type { ResolvedDestination } from './destinations.js';
import { protoDuration } from './durations.js';
import { buildLoadAssignment } from './endpoints.js';
import { adsConfigSource } from './http-connection-manager.js';
import type { NamedResource } from './types.js';

type Obj = Record<string, unknown>;

/** Envoy's default failure_percentage_threshold, used as the failure rate that ejects a host. */
export const GRPC_FAILURE_PERCENTAGE_THRESHOLD = 85;
/** Envoy's default consecutive_5xx, the request volume when the rule gives no error count. */
const DEFAULT_CONSECUTIVE_ERRORS = 5;

function grpcLoadBalancing(lb: LoadBalancerSettings | undefined, notes: string[], cluster: string): Obj {
  const ch = lb?.consistentHash;
  if (ch) {
    if (ch.maglev) notes.push(`${cluster}: gRPC has no maglev; a ring hash is used instead`);
    const size = ch.ringHash?.minimumRingSize || ch.minimumRingSize || 1024;
    return { lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: { value: size } } };
  }
  if (lb?.simple === 'LEAST_REQUEST' || lb?.simple === 'RANDOM' || lb?.simple === 'PASSTHROUGH') {
    notes.push(`${cluster}: gRPC clients do not support loadBalancer.simple ${lb.simple}; ROUND_ROBIN is used`);
  }
  return { lbPolicy: 'ROUND_ROBIN' };
}

/** DestinationRule outlierDetection → gRPC failure-percentage ejection (see the file comment); undefined = none. */
export function grpcOutlierDetection(od: OutlierDetection): Obj {
  const counts = [od.consecutive5xxErrors ?? od.consecutiveErrors, od.consecutiveGatewayErrors].filter((n): n is number => n !== undefined);
  const enabled = counts.length === 0 || counts.some((n) => n > 0);
  const volume = counts.filter((n) => n > 0);
  const out: Obj = {
    // Success-rate ejection is on by default in gRPC: Istio never asks for it.
    enforcingSuccessRate: { value: 0 },
    enforcingFailurePercentage: { value: enabled ? 100 : 0 },
    failurePercentageThreshold: { value: GRPC_FAILURE_PERCENTAGE_THRESHOLD },
    failurePercentageRequestVolume: { value: volume.length ? Math.min(...volume) : DEFAULT_CONSECUTIVE_ERRORS },
    // Istio's rule judges each host on its own errors, whatever the number of hosts.
    failurePercentageMinimumHosts: { value: 1 },
  };
  if (od.interval) out.interval = protoDuration(od.interval);
  if (od.baseEjectionTime) out.baseEjectionTime = protoDuration(od.baseEjectionTime);
  if (od.maxEjectionPercent) out.maxEjectionPercent = { value: od.maxEjectionPercent };
  return out;
}

/** One gRPC cluster (the DestinationRule passed is the one that applies to the destination). */
export function buildGrpcCluster(d: ResolvedDestination, dr: DestinationRule | undefined, notes: string[]): NamedResource {
  const subset = dr?.spec.subsets?.find((s) => s.name === d.subset);
  const policy = effectivePolicy(dr?.spec.trafficPolicy, subset?.trafficPolicy, d.port);
  const c: Obj = {
    name: d.clusterName,
    type: 'EDS',
    edsClusterConfig: { edsConfig: adsConfigSource(), serviceName: d.clusterName },
    ...grpcLoadBalancing(policy.loadBalancer, notes, d.clusterName),
    metadata: { filterMetadata: { istio: { services: [{ host: d.host, name: d.service?.name ?? d.host, namespace: d.service?.namespace ?? '' }], ...(d.subset ? { subset: d.subset } : {}) } } },
  };
  const maxRequests = policy.connectionPool?.http?.http2MaxRequests;
  if (maxRequests && maxRequests > 0) c.circuitBreakers = { thresholds: [{ maxRequests: { value: maxRequests } }] };
  if (policy.outlierDetection) c.outlierDetection = grpcOutlierDetection(policy.outlierDetection);
  if (policy.tls && policy.tls.mode !== 'DISABLE') notes.push(`${d.clusterName}: DestinationRule tls ${policy.tls.mode} is not applied to proxyless gRPC clients (plaintext)`);
  return { name: d.clusterName, value: c };
}

/** gRPC requires every LocalityLbEndpoints to name a locality (grpc-js NACKs an unset one): an unknown one is {}. */
export function withLocalities(cla: NamedResource): NamedResource {
  const endpoints = (cla.value.endpoints as Obj[]).map((e) => (e.locality ? e : { locality: {}, ...e }));
  return { name: cla.name, value: { ...cla.value, endpoints } };
}

export interface GrpcClusters {
  clusters: NamedResource[];
  endpoints: NamedResource[];
  notes: string[];
}

/** Clusters and ClusterLoadAssignments for every port (UDP aside) and subset of the services a gRPC client sees. */
export function buildGrpcClusters(snapshot: ConfigSnapshot, proxy: ProxyInfo, services: readonly MeshService[]): GrpcClusters {
  const out: GrpcClusters = { clusters: [], endpoints: [], notes: [] };
  for (const { d, dr } of serviceDestinations(snapshot, proxy, services)) {
    out.clusters.push(buildGrpcCluster(d, dr, out.notes));
    out.endpoints.push(withLocalities(buildLoadAssignment(d, dr)));
  }
  return out;
}
