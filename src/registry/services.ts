/**
 * The service model: Kubernetes Services (+ EndpointSlices / Endpoints + Pod labels) and
 * ServiceEntries become MeshServices with ports, protocols and labelled endpoints.
 */
import type { K8sEndpointSlice, K8sEndpoints, K8sPod, K8sService, ServiceEntry } from '../api/index.js';
import type { MeshService, Protocol, ServiceEndpoint, ServicePort } from './model.js';

const APP_PROTOCOLS: Record<string, Protocol> = {
  http: 'HTTP', http2: 'HTTP2', h2c: 'HTTP2', 'kubernetes.io/h2c': 'HTTP2', grpc: 'GRPC', 'grpc-web': 'GRPC-WEB',
  https: 'HTTPS', tcp: 'TCP', tls: 'TLS', mongo: 'MONGO', redis: 'REDIS', mysql: 'MYSQL', udp: 'UDP',
  'kubernetes.io/ws': 'HTTP', 'kubernetes.io/wss': 'HTTPS',
};

/** Istio's protocol selection: appProtocol, then the port name's prefix ("http-web" → HTTP); unknown is TCP. */
export function protocolOf(port: { name?: string; protocol?: string; appProtocol?: string | null }): Protocol {
  if ((port.protocol ?? 'TCP').toUpperCase() === 'UDP') return 'UDP';
  const app = port.appProtocol?.toLowerCase();
  if (app && APP_PROTOCOLS[app]) return APP_PROTOCOLS[app];
  const name = (port.name ?? '').toLowerCase();
  const prefix = name.startsWith('grpc-web') ? 'grpc-web' : name.split('-')[0];
  return APP_PROTOCOLS[prefix] && prefix !== 'udp' ? APP_PROTOCOLS[prefix] : 'TCP';
}

/** A ServiceEntry port's protocol as Istio names it. */
export function parseProtocol(p: string | undefined): Protocol {
  const u = (p ?? 'TCP').toUpperCase();
  const known: Protocol[] = ['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TCP', 'TLS', 'MONGO', 'REDIS', 'MYSQL', 'UDP'];
  return (known as string[]).includes(u) ? (u as Protocol) : 'UNSUPPORTED';
}

export function labelsMatch(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector ?? {})) if (labels[k] !== v) return false;
  return true;
}

export function parseExportTo(values: readonly string[] | undefined, ownNamespace: string): string[] {
  if (!values || values.length === 0) return ['*'];
  return values.map((v) => (v === '.' ? ownNamespace : v));
}

export function isVisibleTo(exportTo: readonly string[], namespace: string): boolean {
  return exportTo.includes('*') || exportTo.includes(namespace);
}

export interface PodIndex {
  byName: Map<string, K8sPod>;
  byIp: Map<string, K8sPod>;
}

export function indexPods(pods: readonly K8sPod[]): PodIndex {
  const byName = new Map<string, K8sPod>();
  const byIp = new Map<string, K8sPod>();
  for (const p of pods) {
    byName.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
    const ips = [p.status?.podIP, ...(p.status?.podIPs ?? []).map((x) => x.ip)].filter((x): x is string => !!x);
    for (const ip of ips) byIp.set(ip, p);
  }
  return { byName, byIp };
}

function localityOf(pod: K8sPod | undefined, zone: string | undefined): string {
  const l = pod?.metadata.labels ?? {};
  const region = l['topology.kubernetes.io/region'] ?? '';
  const z = l['topology.kubernetes.io/zone'] ?? zone ?? '';
  const sub = l['topology.istio.io/subzone'] ?? '';
  return region || z || sub ? [region, z, sub].join('/').replace(/\/+$/, '') : '';
}

function endpointsFromSlices(svc: K8sService, ports: readonly ServicePort[], slices: readonly K8sEndpointSlice[], pods: PodIndex): ServiceEndpoint[] {
  const byAddress = new Map<string, { address: string; ports: Record<string, number>; labels: Record<string, string>; locality: string; ready: boolean; namespace: string }>();
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      const ready = ep.conditions?.ready !== false;
      const pod = ep.targetRef?.kind === 'Pod' && ep.targetRef.name
        ? pods.byName.get(`${ep.targetRef.namespace ?? svc.metadata.namespace}/${ep.targetRef.name}`)
        : undefined;
      for (const address of ep.addresses) {
        const p = pod ?? pods.byIp.get(address);
        // One endpoint per workload: the same pod may appear in several slices (one per port set),
        // and distinct pods may share an address (host network) with different ports.
        const id = `${address}|${p ? `${p.metadata.namespace}/${p.metadata.name}` : ''}`;
        let e = byAddress.get(id);
        if (!e) {
          e = { address, ports: {}, labels: { ...(p?.metadata.labels ?? {}) }, locality: localityOf(p, ep.zone), ready, namespace: p?.metadata.namespace ?? svc.metadata.namespace };
          byAddress.set(id, e);
        }
        for (const sp of slice.ports ?? []) {
          if (sp.port == null) continue;
          const name = sp.name ?? '';
          if (ports.some((x) => x.name === name)) e.ports[name] = sp.port;
        }
      }
    }
  }
  return [...byAddress.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, e]) => ({ ...e, weight: 1 }));
}

function endpointsFromLegacy(svc: K8sService, ports: readonly ServicePort[], eps: K8sEndpoints | undefined, pods: PodIndex): ServiceEndpoint[] {
  const out: ServiceEndpoint[] = [];
  for (const subset of eps?.subsets ?? []) {
    const portMap: Record<string, number> = {};
    for (const p of subset.ports ?? []) if (ports.some((x) => x.name === (p.name ?? ''))) portMap[p.name ?? ''] = p.port;
    for (const [list, ready] of [[subset.addresses ?? [], true], [subset.notReadyAddresses ?? [], false]] as const) {
      for (const a of list) {
        const pod = a.targetRef?.name ? pods.byName.get(`${a.targetRef.namespace ?? svc.metadata.namespace}/${a.targetRef.name}`) : pods.byIp.get(a.ip);
        out.push({ address: a.ip, ports: portMap, labels: { ...(pod?.metadata.labels ?? {}) }, locality: localityOf(pod, undefined), weight: 1, ready, namespace: svc.metadata.namespace });
      }
    }
  }
  return out.sort((a, b) => a.address.localeCompare(b.address));
}

export function serviceFromKubernetes(svc: K8sService, slices: readonly K8sEndpointSlice[], legacy: K8sEndpoints | undefined, pods: PodIndex, domainSuffix: string): MeshService {
  const ports: ServicePort[] = (svc.spec?.ports ?? []).map((p) => ({
    name: p.name ?? '',
    port: p.port,
    protocol: protocolOf(p),
    ...(typeof p.targetPort === 'number' ? { targetPort: p.targetPort } : {}),
  }));
  const ips = [svc.spec?.clusterIP, ...(svc.spec?.clusterIPs ?? [])].filter((x): x is string => !!x && x !== 'None');
  const endpoints = slices.length > 0 ? endpointsFromSlices(svc, ports, slices, pods) : endpointsFromLegacy(svc, ports, legacy, pods);
  const exportAnno = svc.metadata.annotations?.['networking.istio.io/exportTo'];
  return {
    hostname: `${svc.metadata.name}.${svc.metadata.namespace}.svc.${domainSuffix}`,
    namespace: svc.metadata.namespace,
    name: svc.metadata.name,
    source: 'kubernetes',
    addresses: [...new Set(ips)],
    ports,
    endpoints,
    resolution: 'STATIC',
    location: 'MESH_INTERNAL',
    exportTo: parseExportTo(exportAnno ? exportAnno.split(',').map((s) => s.trim()) : undefined, svc.metadata.namespace),
    labels: { ...(svc.metadata.labels ?? {}) },
  };
}

export function servicesFromServiceEntry(se: ServiceEntry, pods: readonly K8sPod[]): MeshService[] {
  const spec = se.spec;
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({ name: p.name, port: p.number, protocol: parseProtocol(p.protocol), ...(p.targetPort ? { targetPort: p.targetPort } : {}) }));
  const portTarget = (name: string, explicit: Record<string, number> | undefined) => explicit?.[name] ?? ports.find((p) => p.name === name)?.targetPort ?? ports.find((p) => p.name === name)!.port;
  let endpoints: ServiceEndpoint[];
  if (spec.workloadSelector) {
    endpoints = pods
      .filter((p) => p.metadata.namespace === se.metadata.namespace && p.status?.podIP && labelsMatch(spec.workloadSelector?.labels, p.metadata.labels ?? {}))
      .map((p) => ({
        address: p.status!.podIP!, labels: { ...(p.metadata.labels ?? {}) }, locality: '', weight: 1, ready: true, namespace: p.metadata.namespace,
        ports: Object.fromEntries(ports.map((sp) => [sp.name, sp.targetPort ?? sp.port])),
      }));
  } else {
    endpoints = (spec.endpoints ?? []).map((ep) => ({
      address: ep.address ?? '',
      labels: { ...(ep.labels ?? {}) },
      locality: ep.locality ?? '',
      weight: ep.weight && ep.weight > 0 ? ep.weight : 1,
      ready: true,
      namespace: se.metadata.namespace,
      ports: Object.fromEntries(ports.map((sp) => [sp.name, portTarget(sp.name, ep.ports)])),
    }));
  }
  return spec.hosts.map((host) => ({
    hostname: host,
    namespace: se.metadata.namespace,
    name: se.metadata.name,
    source: 'serviceentry' as const,
    addresses: [...(spec.addresses ?? [])],
    ports,
    endpoints,
    resolution: spec.resolution === 'DYNAMIC_DNS' ? 'DNS' : (spec.resolution ?? 'NONE'),
    location: spec.location ?? 'MESH_EXTERNAL',
    exportTo: parseExportTo(spec.exportTo, se.metadata.namespace),
    labels: { ...(se.metadata.labels ?? {}) },
  }));
}
