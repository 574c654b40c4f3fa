/**
 * The registry's read model: what the translator sees. Everything here is immutable
 * once a snapshot is frozen (registry/snapshot.ts builds it).
 */
import type { DestinationRule, Gateway, ServiceEntry, Sidecar, VirtualService } from '../api/index.js';

/** Istio protocol names, as derived from appProtocol / port-name prefix / ServiceEntry port protocol. */
export type Protocol =
  | 'HTTP' | 'HTTPS' | 'HTTP2' | 'GRPC' | 'GRPC-WEB' | 'TCP' | 'TLS' | 'MONGO' | 'REDIS' | 'MYSQL' | 'UDP' | 'UNSUPPORTED';

export interface ServicePort {
  /** Port name ('' for the single unnamed port of a Kubernetes Service). */
  name: string;
  /** The service port number (what clients call). */
  port: number;
  protocol: Protocol;
  /** ServiceEntry targetPort or a numeric Kubernetes targetPort, when known statically. */
  targetPort?: number;
}

export interface ServiceEndpoint {
  address: string;
  /** Target port per service port name (EndpointSlice port name / ServiceEntry endpoint ports). */
  ports: Readonly<Record<string, number>>;
  /** Labels of the workload (pod labels via targetRef or pod IP; ServiceEntry endpoint labels). */
  labels: Readonly<Record<string, string>>;
  /** region/zone/subzone, '' when unknown. */
  locality: string;
  /** Load-balancing weight, default 1. */
  weight: number;
  ready: boolean;
  /** Pod or WorkloadEntry namespace when known. */
  namespace?: string;
}

export type ServiceResolution = 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'NONE';

export interface MeshService {
  /** FQDN, e.g. reviews.default.svc.cluster.local, or the ServiceEntry host. */
  hostname: string;
  /** Namespace the service (or its ServiceEntry) lives in. */
  namespace: string;
  /** Kubernetes Service name, or the ServiceEntry name. */
  name: string;
  source: 'kubernetes' | 'serviceentry';
  /** Cluster IPs / ServiceEntry addresses ('' entries omitted). */
  addresses: readonly string[];
  ports: readonly ServicePort[];
  endpoints: readonly ServiceEndpoint[];
  /** Kubernetes Services are STATIC (EDS); ServiceEntries carry their resolution. */
  resolution: ServiceResolution;
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  /** Namespaces that may see it ('*' = all, '.' already resolved to the own namespace). */
  exportTo: readonly string[];
  labels: Readonly<Record<string, string>>;
  /** ServiceEntry subjectAltNames: the identities its TLS servers may present. */
  subjectAltNames?: readonly string[];
}

export interface TlsSecret {
  namespace: string;
  name: string;
  /** PEM strings (decoded from base64 data). */
  cert?: string;
  key?: string;
  ca?: string;
  /** Why present material was left out (unparsable PEM, key not matching the certificate). */
  problems?: string[];
}

export interface Namespace {
  name: string;
  labels: Readonly<Record<string, string>>;
}

export interface ConfigSnapshot {
  /** Monotonic registry version this snapshot was frozen at. */
  readonly version: number;
  /** Mesh settings (root namespace for DestinationRule lookup, domain suffix). */
  readonly mesh: { rootNamespace: string; domainSuffix: string };
  /** Problems found while assembling the configuration (e.g. a delegate that cannot be merged), naming the objects. */
  readonly notes: readonly string[];
  /**
   * Per kind, the registry version at which objects of that kind last changed (kinds never
   * changed since the registry started are absent). Absent altogether when unknown (a snapshot
   * built from a list of objects): then anything may have changed. See {@link kindsChangedSince}.
   */
  readonly kindVersions?: Readonly<Record<string, number>>;
  /**
   * Whether an EndpointSlice or Endpoints object listing `address` (before or after the change)
   * changed after registry version `since`. It reads the registry's record as it is now, so it may
   * also answer true for a change after this snapshot, never false for one before it. Absent when
   * unknown.
   */
  readonly endpointsChangedSince?: (address: string, since: number) => boolean;

  readonly virtualServices: readonly VirtualService[];
  readonly destinationRules: readonly DestinationRule[];
  readonly gateways: readonly Gateway[];
  readonly serviceEntries: readonly ServiceEntry[];
  readonly sidecars: readonly Sidecar[];
  readonly services: readonly MeshService[];
  readonly namespaces: readonly Namespace[];

  /** Service by exact hostname (FQDN) — a ServiceEntry and a Kubernetes Service may share a host; Kubernetes wins here. */
  serviceByHost(hostname: string): MeshService | undefined;
  /** Labels of the pod a proxy runs in, by namespace/name or else by IP (undefined when unknown). */
  workloadLabels(namespace: string, podName: string, ip?: string): Readonly<Record<string, string>> | undefined;
  /** Secret by namespace/name (Kubernetes TLS or generic with tls.crt/tls.key/ca.crt). */
  secret(namespace: string, name: string): TlsSecret | undefined;
  /**
   * Gateways whose selector matches the labels (Istio: any namespace unless scoped; an empty
   * selector matches every workload), in Istio's creation order (oldest first, then name, then
   * namespace): the first gateway wins a server conflict.
   */
  gatewaysForWorkload(labels: Readonly<Record<string, string>>): readonly Gateway[];
  /**
   * VirtualServices bound to the gateway "namespace/name" (short names in spec.gateways resolved
   * against the VirtualService namespace, also "./name" and the legacy "name.ns.svc…" form), oldest
   * first (then name, then namespace). With `proxyNamespace` (the gateway workload's namespace):
   * only those exported to it, in Istio's order — private to that namespace, then exported to it
   * by name, then public.
   */
  virtualServicesForGateway(gatewayKey: string, proxyNamespace?: string): readonly VirtualService[];
  /** VirtualServices that apply to sidecars (gateways empty or containing "mesh"). */
  meshVirtualServices(): readonly VirtualService[];
  /**
   * DestinationRule for a host with Istio's lookup order: client namespace, then service namespace
   * (default: that of the service the client sees under the host), then root namespace; exportTo
   * honoured; the most specific host wins; same-host rules of a namespace merged as Istio merges
   * them. Rules with a workloadSelector apply only when `workloadLabels` (the client's) match.
   */
  destinationRuleFor(hostname: string, clientNamespace: string, serviceNamespace?: string, workloadLabels?: Readonly<Record<string, string>>): DestinationRule | undefined;
}

/**
 * The kinds whose objects changed after registry version `version` up to this snapshot, or
 * undefined when the snapshot cannot tell (no kind versions, or `version` is not older than it).
 */
export function kindsChangedSince(snapshot: ConfigSnapshot, version: number): string[] | undefined {
  const kv = snapshot.kindVersions;
  if (!kv || version > snapshot.version) return undefined;
  return Object.keys(kv).filter((k) => kv[k] > version);
}
