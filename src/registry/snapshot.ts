/**
 * An immutable, indexed view of the registry: what the translator reads.
 *
 * Orders (Istio's): VirtualServices, DestinationRules and ServiceEntries oldest first (then name,
 * then namespace); gatewaysForWorkload in the same creation order, since the first gateway wins a
 * server conflict; Gateways, Sidecars and services listed by namespace/name or hostname.
 */
import { resolveDelegation } from './delegates.js';
import type { DestinationRule, Gateway, K8sEndpointSlice, K8sEndpoints, K8sNamespace, K8sPod, K8sSecret, K8sService, Resource, ServiceEntry, Sidecar, VirtualService } from '../api/index.js';
import { indexDestinationRules } from './destination-rules.js';
import type { ConfigSnapshot, MeshService, Namespace, TlsSecret } from './model.js';
import { compareByCreation, compareByNamespacedName, compareStrings } from './ordering.js';
import { secretFromKubernetes } from './secrets.js';
import { meshHostConflicts } from './vs-conflicts.js';
import { indexPods, isVisibleTo, type PodIndex, labelsMatch, parseExportTo, serviceFromKubernetes, servicesFromServiceEntry } from './services.js';

export { secretFromKubernetes } from './secrets.js';

export interface SnapshotOptions {
  version?: number;
  /** Per kind, the registry version at which it last changed (ConfigSnapshot.kindVersions). */
  kindVersions?: Readonly<Record<string, number>>;
  /** ConfigSnapshot.endpointsChangedSince. */
  endpointsChangedSince?: (address: string, since: number) => boolean;
  rootNamespace?: string;
  domainSuffix?: string;
}

function key(o: { metadata: { namespace: string; name: string } }): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}

/**
 * Resolves a VirtualService's gateway reference to "namespace/name", as Istio does: "mesh" stays,
 * "ns/name" as is ("./name" in the VirtualService's namespace), a short name in the VirtualService's
 * namespace, and the legacy FQDN form "name.ns.svc.cluster.local" (or "name.ns") to "ns/name".
 */
export function gatewayKey(ref: string, vsNamespace: string): string {
  if (ref === 'mesh') return 'mesh';
  const slash = ref.indexOf('/');
  if (slash >= 0) return ref.slice(0, slash) === '.' ? `${vsNamespace}/${ref.slice(slash + 1)}` : ref;
  const [name, ns] = ref.split('.');
  return ns === undefined ? `${vsNamespace}/${ref}` : `${ns}/${name}`;
}

function groupBy<T>(items: readonly T[], keyOf: (t: T) => string | undefined): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const it of items) {
    const k = keyOf(it);
    if (k === undefined) continue;
    const list = out.get(k);
    if (list) list.push(it);
    else out.set(k, [it]);
  }
  return out;
}

/** Istio's gateway VirtualService order for a proxy namespace: private, then exported to it, then public. */
function forProxyNamespace(list: readonly VirtualService[], proxyNamespace: string): VirtualService[] {
  const priv: VirtualService[] = [];
  const exportedTo: VirtualService[] = [];
  const pub: VirtualService[] = [];
  for (const vs of list) {
    const exportTo = parseExportTo(vs.spec.exportTo, vs.metadata.namespace);
    if (exportTo.includes('*')) pub.push(vs);
    else if (exportTo.includes('~') || !exportTo.includes(proxyNamespace)) continue;
    else if (proxyNamespace === vs.metadata.namespace) priv.push(vs);
    else exportedTo.push(vs);
  }
  return [...priv, ...exportedTo, ...pub];
}

export function snapshotFromObjects(objects: readonly Resource[], opts: SnapshotOptions = {}): ConfigSnapshot {
  return buildSnapshot(objects, opts).snapshot;
}

/** A full build, with what deriving later snapshots from it needs (see derived-snapshot.ts). */
export interface SnapshotBuild {
  snapshot: ConfigSnapshot;
  podIndex: PodIndex;
  /** The Kubernetes services by "namespace/name" (what an endpoint-only change rebuilds; see derived-snapshot.ts). */
  kubeByKey: ReadonlyMap<string, MeshService>;
}

export function buildSnapshot(objects: readonly Resource[], opts: SnapshotOptions = {}): SnapshotBuild {
  const domainSuffix = opts.domainSuffix ?? 'cluster.local';
  const rootNamespace = opts.rootNamespace ?? 'istio-system';
  const byKind = groupBy(objects, (o) => o.kind);
  const of = <T>(kind: string) => (byKind.get(kind) ?? []) as unknown as T[];

  const delegation = resolveDelegation(of<VirtualService>('VirtualService').sort(compareByCreation), domainSuffix);
  const virtualServices = delegation.virtualServices;
  const destinationRules = of<DestinationRule>('DestinationRule').sort(compareByCreation);
  const gateways = of<Gateway>('Gateway').sort(compareByNamespacedName);
  const gatewaysByAge = [...gateways].sort(compareByCreation);
  const serviceEntries = of<ServiceEntry>('ServiceEntry').sort(compareByCreation);
  const sidecars = of<Sidecar>('Sidecar').sort(compareByNamespacedName);
  const pods = of<K8sPod>('Pod').sort(compareByNamespacedName);
  const podIndex = indexPods(pods);

  // Services: Kubernetes (with their slices / legacy Endpoints), then one per ServiceEntry host.
  const slicesBySvc = groupBy(of<K8sEndpointSlice>('EndpointSlice').sort(compareByNamespacedName), (s) => {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'];
    return svc ? `${s.metadata.namespace}/${svc}` : undefined;
  });
  const legacy = new Map(of<K8sEndpoints>('Endpoints').map((e) => [key(e), e]));
  const kubeServices = of<K8sService>('Service').sort(compareByNamespacedName)
    .map((s) => serviceFromKubernetes(s, slicesBySvc.get(key(s)) ?? [], legacy.get(key(s)), podIndex, domainSuffix));
  const seServices = serviceEntries.flatMap((se) => servicesFromServiceEntry(se, pods));
  const services: MeshService[] = [...kubeServices, ...seServices]
    .sort((a, b) => compareStrings(a.hostname, b.hostname) || compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name));

  // By host: the oldest ServiceEntry, unless a Kubernetes Service has that host.
  const hostIndex = new Map<string, MeshService>();
  for (const s of seServices) if (!hostIndex.has(s.hostname)) hostIndex.set(s.hostname, s);
  for (const s of kubeServices) hostIndex.set(s.hostname, s);
  const servicesByHost = groupBy(services, (s) => s.hostname);

  const secrets = new Map<string, TlsSecret>(of<K8sSecret>('Secret').map((s) => [key(s), secretFromKubernetes(s)]));

  const nsObjects = of<K8sNamespace>('Namespace');
  const nsLabels = new Map(nsObjects.map((n) => [n.metadata.name, { ...(n.metadata.labels ?? {}) }]));
  const namespaceNames = new Set<string>(nsObjects.map((n) => n.metadata.name));
  for (const o of objects) if (o.kind !== 'Namespace' && o.metadata.namespace) namespaceNames.add(o.metadata.namespace);
  const namespaces: Namespace[] = [...namespaceNames].sort(compareStrings).map((name) => ({ name, labels: nsLabels.get(name) ?? {} }));

  // VirtualServices by resolved gateway ("mesh" when none is named), in creation order.
  const vsByGateway = new Map<string, VirtualService[]>();
  for (const vs of virtualServices) {
    const refs = vs.spec.gateways?.length ? vs.spec.gateways : ['mesh'];
    for (const g of new Set(refs.map((r) => gatewayKey(r, vs.metadata.namespace)))) {
      const list = vsByGateway.get(g);
      if (list) list.push(vs);
      else vsByGateway.set(g, [vs]);
    }
  }
  const vsForProxyNs = new Map<string, readonly VirtualService[]>();

  const drIndex = indexDestinationRules(destinationRules, { rootNamespace, domainSuffix });
  /** The namespace of the service a client namespace sees under a host (Istio: first visible service). */
  const serviceNamespaceFor = (hostname: string, clientNs: string): string | undefined => {
    const preferred = hostIndex.get(hostname);
    if (preferred && isVisibleTo(preferred.exportTo, clientNs)) return preferred.namespace;
    return servicesByHost.get(hostname)?.find((s) => isVisibleTo(s.exportTo, clientNs))?.namespace;
  };

  const snapshot: ConfigSnapshot = {
    version: opts.version ?? 0,
    ...(opts.kindVersions ? { kindVersions: Object.freeze({ ...opts.kindVersions }) } : {}),
    ...(opts.endpointsChangedSince ? { endpointsChangedSince: opts.endpointsChangedSince } : {}),
    mesh: { rootNamespace, domainSuffix },
    notes: [...delegation.notes, ...meshHostConflicts(vsByGateway.get('mesh') ?? [], domainSuffix)],
    virtualServices, destinationRules, gateways, serviceEntries, sidecars, services, namespaces,
    serviceByHost: (h) => hostIndex.get(h),
    secret: (ns, name) => secrets.get(`${ns}/${name}`),
    workloadLabels: (ns, name, ip) => {
      const pod = podIndex.byName.get(`${ns}/${name}`) ?? (ip ? podIndex.byIp.get(ip) : undefined);
      return pod ? { ...(pod.metadata.labels ?? {}) } : undefined;
    },
    gatewaysForWorkload: (labels) => gatewaysByAge.filter((g) => labelsMatch(g.spec.selector, labels)),
    virtualServicesForGateway: (gw, proxyNamespace) => {
      const all = vsByGateway.get(gw) ?? [];
      if (proxyNamespace === undefined) return all;
      const k = `${proxyNamespace}|${gw}`;
      let list = vsForProxyNs.get(k);
      if (!list) vsForProxyNs.set(k, (list = Object.freeze(forProxyNamespace(all, proxyNamespace))));
      return list;
    },
    meshVirtualServices: () => vsByGateway.get('mesh') ?? [],
    destinationRuleFor: (hostname, clientNamespace, serviceNamespace, workloadLabels) => drIndex.lookup({
      hostname,
      clientNamespace,
      serviceNamespace: serviceNamespace ?? serviceNamespaceFor(hostname, clientNamespace),
      ...(workloadLabels ? { workloadLabels } : {}),
    }),
  };
  return { snapshot, podIndex, kubeByKey: new Map(kubeServices.map((s) => [`${s.namespace}/${s.name}`, s])) };
}
