/**
 * The service model: Kubernetes Services (+ EndpointSlices / Endpoints + Pod labels) and
 * ServiceEntries become MeshServices with ports, protocols and labelled endpoints.
 *
 * Choices (Istio compatibility notes):
 * - Protocols follow Istio's ConvertProtocol: UDP → UDP; else appProtocol when set (replacing the
 *   port name entirely), else the port name; "grpc-web…" first, then the part before the first '-'.
 *   Istio leaves anything else "unsupported" and sniffs the protocol at runtime; meshpilot does not
 *   sniff and treats it as TCP. Bare appProtocol "h2c" is read as HTTP2 (Istio would sniff and find
 *   HTTP/2 there too); "kubernetes.io/h2c|ws|wss" as Istio does.
 * - Kubernetes Services are STATIC (EDS), headless ones included; ExternalName Services become a
 *   DNS-resolved MESH_EXTERNAL service whose one endpoint is the external name, as in Istio.
 * - Endpoints come from the EndpointSlices labelled kubernetes.io/service-name (FQDN slices
 *   ignored); the legacy Endpoints object is used only when a service has no slice.
 * - Locality: the pod's istio-locality label ("region.zone.subzone"), else the pod's
 *   topology.kubernetes.io/region|zone and topology.istio.io/subzone labels, else the slice's zone.
 *   (Istio reads region/zone from the Node; Nodes are not part of the registry.)
 */
import type { K8sEndpointSlice, K8sEndpoints, K8sPod, K8sService, ServiceEntry } from '../api/index.js';
import type { MeshService, Protocol, ServiceEndpoint, ServicePort } from './model.js';

const PROTOCOL_NAMES: Readonly<Record<string, Protocol>> = {
  tcp: 'TCP', udp: 'UDP', grpc: 'GRPC', 'grpc-web': 'GRPC-WEB', http: 'HTTP', http2: 'HTTP2', https: 'HTTPS',
  tls: 'TLS', mongo: 'MONGO', redis: 'REDIS', mysql: 'MYSQL',
};

/** appProtocol values with a meaning of their own (Kubernetes standard names, and bare h2c). */
const APP_PROTOCOL_ALIASES: Readonly<Record<string, Protocol>> = {
  'kubernetes.io/h2c': 'HTTP2', 'kubernetes.io/ws': 'HTTP', 'kubernetes.io/wss': 'HTTPS', h2c: 'HTTP2',
};

/** Istio's protocol selection for a Kubernetes service port; unknown (Istio: sniffed) is TCP. */
export function protocolOf(port: { name?: string | null; protocol?: string | null; appProtocol?: string | null }): Protocol {
  if ((port.protocol ?? 'TCP').toUpperCase() === 'UDP') return 'UDP';
  let name = port.name ?? '';
  if (port.appProtocol != null) {
    const alias = APP_PROTOCOL_ALIASES[port.appProtocol.toLowerCase()];
    if (alias) return alias;
    name = port.appProtocol;
  }
  const lower = name.toLowerCase();
  if (lower.startsWith('grpc-web')) return 'GRPC-WEB';
  const dash = lower.indexOf('-');
  return PROTOCOL_NAMES[dash >= 0 ? lower.slice(0, dash) : lower] ?? 'TCP';
}

/** A ServiceEntry / Gateway / Sidecar port protocol as Istio names it (case-insensitive); unknown is UNSUPPORTED. */
export function parseProtocol(p: string | undefined): Protocol {
  return PROTOCOL_NAMES[(p ?? 'TCP').toLowerCase()] ?? 'UNSUPPORTED';
}

/** Does every selector label appear in the labels (an empty or missing selector matches everything)? */
export function labelsMatch(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector ?? {})) if (labels[k] !== v) return false;
  return true;
}

/** exportTo values with '.' resolved to the own namespace; none given means '*' (Istio's default). */
export function parseExportTo(values: readonly string[] | undefined, ownNamespace: string): string[] {
  if (!values || values.length === 0) return ['*'];
  return [...new Set(values.map((v) => (v === '.' ? ownNamespace : v)))].sort();
}

export function isVisibleTo(exportTo: readonly string[], namespace: string): boolean {
  return exportTo.includes('*') || exportTo.includes(namespace);
}

export interface PodIndex {
  byName: ReadonlyMap<string, K8sPod>;
  byIp: ReadonlyMap<string, K8sPod>;
}

function podIps(p: K8sPod): string[] {
  return [...new Set([p.status?.podIP, ...(p.status?.podIPs ?? []).map((x) => x.ip)].filter((x): x is string => !!x))];
}

/** Pods by namespace/name and by IP (the first pod by namespace/name wins an IP shared over host network). */
export function indexPods(pods: readonly K8sPod[]): PodIndex {
  const byName = new Map<string, K8sPod>();
  const byIp = new Map<string, K8sPod>();
  const sorted = [...pods].sort((a, b) => compare(podKey(a), podKey(b)));
  for (const p of sorted) {
    byName.set(podKey(p), p);
    for (const ip of podIps(p)) if (!byIp.has(ip)) byIp.set(ip, p);
  }
  return { byName, byIp };
}

function podKey(p: K8sPod): string {
  return `${p.metadata.namespace}/${p.metadata.name}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "region/zone/subzone" of a pod (or the slice zone), '' when nothing is known. */
export function localityOf(pod: K8sPod | undefined, zone: string | undefined): string {
  const l = pod?.metadata.labels ?? {};
  const istio = l['istio-locality'];
  if (istio) return istio.split('.').slice(0, 3).join('/');
  const region = l['topology.kubernetes.io/region'] ?? '';
  const z = l['topology.kubernetes.io/zone'] ?? zone ?? '';
  const sub = l['topology.istio.io/subzone'] ?? '';
  return region || z || sub ? [region, z, sub].join('/').replace(/\/+$/, '') : '';
}

/** Is the pod Ready (condition Ready=True, or Running when it reports no conditions)? */
function podReady(p: K8sPod): boolean {
  const conditions = (p.status as { conditions?: unknown } | undefined)?.conditions;
  if (Array.isArray(conditions)) {
    const ready = conditions.find((c): c is { type: string; status?: unknown } => !!c && typeof c === 'object' && (c as { type?: unknown }).type === 'Ready');
    if (ready) return ready.status === 'True';
  }
  const phase = p.status?.phase;
  return phase === undefined || phase === 'Running';
}

interface EndpointDraft { address: string; ports: Record<string, number>; labels: Record<string, string>; locality: string; ready: boolean; namespace: string }

function endpointsFromSlices(svc: K8sService, ports: readonly ServicePort[], slices: readonly K8sEndpointSlice[], pods: PodIndex): ServiceEndpoint[] {
  const portNames = new Set(ports.map((p) => p.name));
  const byWorkload = new Map<string, EndpointDraft>();
  for (const slice of slices) {
    if (slice.addressType === 'FQDN') continue;
    for (const ep of slice.endpoints ?? []) {
      const ready = ep.conditions?.ready !== false;
      const ref = ep.targetRef?.kind === 'Pod' && ep.targetRef.name
        ? pods.byName.get(`${ep.targetRef.namespace ?? svc.metadata.namespace}/${ep.targetRef.name}`)
        : undefined;
      for (const address of ep.addresses) {
        const pod = ref ?? pods.byIp.get(address);
        // One endpoint per workload address: the same pod appears in several slices (one per port
        // set); distinct pods may share an address (host network) with different ports.
        const id = `${address}|${pod ? podKey(pod) : ''}`;
        let e = byWorkload.get(id);
        if (!e) {
          e = { address, ports: {}, labels: { ...(pod?.metadata.labels ?? {}) }, locality: localityOf(pod, ep.zone ?? undefined), ready, namespace: pod?.metadata.namespace ?? svc.metadata.namespace };
          byWorkload.set(id, e);
        } else {
          e.ready &&= ready;
        }
        for (const sp of slice.ports ?? []) {
          const name = sp.name ?? '';
          if (sp.port != null && portNames.has(name)) e.ports[name] = sp.port;
        }
      }
    }
  }
  return [...byWorkload.entries()].sort(([a], [b]) => compare(a, b)).map(([, e]) => ({ ...e, weight: 1 }));
}

function endpointsFromLegacy(svc: K8sService, ports: readonly ServicePort[], eps: K8sEndpoints | undefined, pods: PodIndex): ServiceEndpoint[] {
  const portNames = new Set(ports.map((p) => p.name));
  const out: ServiceEndpoint[] = [];
  for (const subset of eps?.subsets ?? []) {
    const portMap: Record<string, number> = {};
    for (const p of subset.ports ?? []) if (portNames.has(p.name ?? '')) portMap[p.name ?? ''] = p.port;
    for (const [list, ready] of [[subset.addresses ?? [], true], [subset.notReadyAddresses ?? [], false]] as const) {
      for (const a of list) {
        const pod = (a.targetRef?.kind === 'Pod' && a.targetRef.name ? pods.byName.get(`${a.targetRef.namespace ?? svc.metadata.namespace}/${a.targetRef.name}`) : undefined) ?? pods.byIp.get(a.ip);
        out.push({ address: a.ip, ports: { ...portMap }, labels: { ...(pod?.metadata.labels ?? {}) }, locality: localityOf(pod, undefined), weight: 1, ready, namespace: pod?.metadata.namespace ?? svc.metadata.namespace });
      }
    }
  }
  return out.sort((a, b) => compare(a.address, b.address) || compare(JSON.stringify(a.ports), JSON.stringify(b.ports)));
}

export function serviceFromKubernetes(svc: K8sService, slices: readonly K8sEndpointSlice[], legacy: K8sEndpoints | undefined, pods: PodIndex, domainSuffix: string): MeshService {
  const ports: ServicePort[] = (svc.spec?.ports ?? []).map((p) => ({
    name: p.name ?? '',
    port: p.port,
    protocol: protocolOf(p),
    ...(typeof p.targetPort === 'number' ? { targetPort: p.targetPort } : {}),
  }));
  const exportAnno = svc.metadata.annotations?.['networking.istio.io/exportTo'];
  const base = {
    hostname: `${svc.metadata.name}.${svc.metadata.namespace}.svc.${domainSuffix}`,
    namespace: svc.metadata.namespace,
    name: svc.metadata.name,
    source: 'kubernetes' as const,
    ports,
    exportTo: parseExportTo(exportAnno ? exportAnno.split(',').map((s) => s.trim()).filter(Boolean) : undefined, svc.metadata.namespace),
    labels: { ...(svc.metadata.labels ?? {}) },
  };
  const externalName = svc.spec?.type === 'ExternalName' ? svc.spec.externalName : undefined;
  if (externalName) {
    return {
      ...base,
      addresses: [],
      endpoints: [{ address: externalName, ports: Object.fromEntries(ports.map((p) => [p.name, p.port])), labels: { ...base.labels }, locality: '', weight: 1, ready: true, namespace: svc.metadata.namespace }],
      resolution: 'DNS',
      location: 'MESH_EXTERNAL',
    };
  }
  const ips = [svc.spec?.clusterIP, ...(svc.spec?.clusterIPs ?? [])].filter((x): x is string => !!x && x !== 'None');
  return {
    ...base,
    addresses: [...new Set(ips)],
    endpoints: slices.length > 0 ? endpointsFromSlices(svc, ports, slices, pods) : endpointsFromLegacy(svc, ports, legacy, pods),
    resolution: 'STATIC',
    location: 'MESH_INTERNAL',
  };
}

/** One MeshService per ServiceEntry host, sharing ports and endpoints. */
export function servicesFromServiceEntry(se: ServiceEntry, pods: readonly K8sPod[]): MeshService[] {
  const spec = se.spec;
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({ name: p.name, port: p.number, protocol: parseProtocol(p.protocol), ...(p.targetPort ? { targetPort: p.targetPort } : {}) }));
  const defaultTarget = (sp: ServicePort) => sp.targetPort ?? sp.port;
  let endpoints: ServiceEndpoint[];
  if (spec.workloadSelector) {
    // Pods selected in the ServiceEntry's namespace, one endpoint per pod IP, on the port's targetPort.
    endpoints = pods
      .filter((p) => p.metadata.namespace === se.metadata.namespace && labelsMatch(spec.workloadSelector?.labels, p.metadata.labels ?? {}) && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
      .flatMap((p) => podIps(p).map((address) => ({
        address, labels: { ...(p.metadata.labels ?? {}) }, locality: localityOf(p, undefined), weight: 1, ready: podReady(p), namespace: p.metadata.namespace,
        ports: Object.fromEntries(ports.map((sp) => [sp.name, defaultTarget(sp)])),
      })))
      .sort((a, b) => compare(a.address, b.address));
  } else {
    // Endpoint port: its own ports[name], else the port's targetPort, else the port number.
    endpoints = (spec.endpoints ?? []).map((ep) => ({
      address: ep.address ?? '',
      labels: { ...(ep.labels ?? {}) },
      locality: ep.locality ?? '',
      weight: ep.weight && ep.weight > 0 ? ep.weight : 1,
      ready: true,
      namespace: se.metadata.namespace,
      ports: Object.fromEntries(ports.map((sp) => [sp.name, ep.ports?.[sp.name] ?? defaultTarget(sp)])),
    }));
  }
  // DYNAMIC_DNS (wildcard hosts resolved per request; Istio builds Envoy's dynamic forward proxy)
  // is served like NONE: the sidecar forwards to the address the app resolved and dialled.
  const resolution = spec.resolution === 'DYNAMIC_DNS' ? 'NONE' : (spec.resolution ?? 'NONE');
  return [...new Set(spec.hosts)].map((host) => ({
    hostname: host,
    namespace: se.metadata.namespace,
    name: se.metadata.name,
    source: 'serviceentry' as const,
    addresses: [...(spec.addresses ?? [])],
    ports,
    endpoints,
    resolution,
    location: spec.location ?? 'MESH_EXTERNAL',
    exportTo: parseExportTo(spec.exportTo, se.metadata.namespace),
    labels: { ...(se.metadata.labels ?? {}) },
    ...(spec.subjectAltNames?.length ? { subjectAltNames: [...spec.subjectAltNames] } : {}),
  }));
}
