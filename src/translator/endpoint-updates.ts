/**
 * Endpoint-only updates: after a change that touched only the endpoints of some Kubernetes
 * Services, the ClusterLoadAssignments a proxy needs anew — rebuilt for the proxy's EDS clusters of
 * those services, with the same builder (and the same DestinationRule lookup) as a full
 * translation, so the result equals what translate() would give for them. Pure.
 *
 * An endpoint change can alter more than endpoints for a proxy whose own address is among the
 * changed endpoints (inbound listeners, a gateway's listen port), and proxyless gRPC clients get
 * their assignments in another shape: for those the answer is undefined (translate in full).
 */
import type { ConfigSnapshot, MeshService } from '../registry/model.js';
import type { EndpointChange } from '../registry/store.js';
import { isProxylessGrpc, type ProxyInfo } from '../proxy/node.js';
import type { ResolvedDestination } from './destinations.js';
import { localityContextFor } from './clusters.js';
import { buildLoadAssignment } from './endpoints.js';
import { proxyLocality } from './locality-lb.js';
import { sortedEntries } from './ordering.js';
import type { NamedResource } from './types.js';

interface ClusterService { host?: string; name?: string; namespace?: string }

/** The service an outbound EDS cluster was built for (from the cluster's istio metadata). */
function edsService(cluster: NamedResource): ClusterService | undefined {
  const v = cluster.value as { type?: string; metadata?: { filterMetadata?: { istio?: { services?: ClusterService[] } } } };
  if (v.type !== 'EDS') return undefined;
  return v.metadata?.filterMetadata?.istio?.services?.[0];
}

export interface EdsCluster { cluster: NamedResource; host: string; namespace: string; name: string }

/**
 * A proxy's outbound EDS clusters by the service they were built for ("namespace/name"), made once
 * per cluster list (translator output is never mutated): an endpoint change then looks only at the
 * changed services' clusters, not at every cluster the proxy has.
 */
const clustersByService = new WeakMap<readonly NamedResource[], ReadonlyMap<string, readonly EdsCluster[]>>();

/** Indexes a proxy's clusters by service (done once per cluster list; returns the index). */
export function indexEdsClusters(clusters: readonly NamedResource[]): ReadonlyMap<string, readonly EdsCluster[]> {
  let index = clustersByService.get(clusters);
  if (!index) {
    const m = new Map<string, EdsCluster[]>();
    for (const cluster of clusters) {
      const meta = edsService(cluster);
      if (!meta?.host) continue;
      const key = `${meta.namespace}/${meta.name}`;
      let list = m.get(key);
      if (!list) m.set(key, (list = []));
      list.push({ cluster, host: meta.host, namespace: meta.namespace ?? '', name: meta.name ?? '' });
    }
    clustersByService.set(clusters, (index = m));
  }
  return index;
}

function kubeService(snapshot: ConfigSnapshot, host: string, namespace: string, name: string): MeshService | undefined {
  const match = (s: MeshService | undefined) => s?.source === 'kubernetes' && s.hostname === host && s.namespace === namespace && s.name === name;
  const preferred = snapshot.serviceByHost(host);
  return match(preferred) ? preferred : snapshot.services.find(match);
}

/**
 * Assignments already built from one snapshot, shared by the proxies that need the same one. The
 * key holds everything buildLoadAssignment reads: the cluster (host, port, subset), the service
 * (namespace/name), the proxy's namespace (the DestinationRule lookup's client namespace) and its
 * locality and labels (locality load balancing: failover priorities, distribute weights).
 */
export interface LoadAssignmentMemo {
  version: number;
  byKey: Map<string, NamedResource>;
}

/**
 * The ClusterLoadAssignments of `clusters` (the proxy's current clusters) that belong to a service
 * of the change, rebuilt from the snapshot; undefined when the proxy needs a full translation.
 * With a memo (for this snapshot's version; the caller's), equal assignments are built once.
 */
export function translateEndpointsFor(snapshot: ConfigSnapshot, proxy: ProxyInfo, clusters: readonly NamedResource[], change: EndpointChange, memo?: LoadAssignmentMemo): NamedResource[] | undefined {
  if (memo && memo.version !== snapshot.version) throw new Error(`load assignment memo of version ${memo.version} used with snapshot ${snapshot.version}`);
  if (isProxylessGrpc(proxy)) return undefined;
  if (proxy.ips.some((ip) => change.addresses.includes(ip))) return undefined;
  const index = indexEdsClusters(clusters);
  const out: NamedResource[] = [];
  const affected = [...new Set(change.services)].flatMap((s) => index.get(s) ?? []);
  if (affected.length === 0) return out;
  // Locality load balancing reads the proxy's locality (and, for failoverPriority, its labels).
  const here = `${proxyLocality(proxy)}|${JSON.stringify(sortedEntries(proxy.labels))}`;
  for (const { cluster: c, ...meta } of affected) {
    const key = `${proxy.namespace}|${here}|${meta.namespace}/${meta.name}|${c.name}`;
    const known = memo?.byKey.get(key);
    if (known) {
      out.push(known);
      continue;
    }
    const [, portText, subset] = c.name.split('|');
    const svc = kubeService(snapshot, meta.host, meta.namespace, meta.name);
    // Not a Kubernetes service (a ServiceEntry with the same namespace/name): its endpoints did not change.
    if (!svc) continue;
    const servicePort = svc.ports.find((p) => p.port === Number(portText));
    if (!servicePort) return undefined;
    const d: ResolvedDestination = { host: svc.hostname, port: servicePort.port, subset: subset ?? '', clusterName: c.name, service: svc, servicePort };
    const dr = snapshot.destinationRuleFor(svc.hostname, proxy.namespace, svc.namespace, proxy.labels);
    // As a full translation builds it (clusters.ts): locality failover / distribution for this proxy.
    const cla = buildLoadAssignment(d, dr, localityContextFor(d, dr, proxy));
    memo?.byKey.set(key, cla);
    out.push(cla);
  }
  return out;
}
