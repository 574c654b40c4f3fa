/** An immutable, indexed view of the registry: what the translator reads. */
import type { DestinationRule, Gateway, K8sEndpointSlice, K8sEndpoints, K8sNamespace, K8sPod, K8sSecret, K8sService, Resource, ServiceEntry, Sidecar, VirtualService } from '../api/index.js';
import { hostMatches, hostSpecificity, resolveShortName } from './hosts.js';
import type { ConfigSnapshot, MeshService, Namespace, TlsSecret } from './model.js';
import { indexPods, isVisibleTo, labelsMatch, parseExportTo, serviceFromKubernetes, servicesFromServiceEntry } from './services.js';

export interface SnapshotOptions {
  version?: number;
  rootNamespace?: string;
  domainSuffix?: string;
}

function key(o: { metadata: { namespace: string; name: string } }): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}

function byAgeThenName(a: { metadata: { namespace: string; name: string; creationTimestamp?: string } }, b: typeof a): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return key(a).localeCompare(key(b));
}

function decode(data: Record<string, string> | undefined, stringData: Record<string, string> | undefined, ...names: string[]): string | undefined {
  for (const n of names) {
    if (stringData?.[n] !== undefined) return stringData[n];
    if (data?.[n] !== undefined) return Buffer.from(data[n], 'base64').toString('utf8');
  }
  return undefined;
}

export function secretFromKubernetes(s: K8sSecret): TlsSecret {
  return {
    namespace: s.metadata.namespace,
    name: s.metadata.name,
    cert: decode(s.data, s.stringData, 'tls.crt', 'cert'),
    key: decode(s.data, s.stringData, 'tls.key', 'key'),
    ca: decode(s.data, s.stringData, 'ca.crt', 'cacert'),
  };
}

/** Resolves a VirtualService's gateway reference to "namespace/name". */
export function gatewayKey(ref: string, vsNamespace: string): string {
  if (ref === 'mesh') return 'mesh';
  return ref.includes('/') ? ref : `${vsNamespace}/${ref}`;
}

export function snapshotFromObjects(objects: readonly Resource[], opts: SnapshotOptions = {}): ConfigSnapshot {
  const domainSuffix = opts.domainSuffix ?? 'cluster.local';
  const rootNamespace = opts.rootNamespace ?? 'istio-system';
  const of = <T>(kind: string) => objects.filter((o) => o.kind === kind) as unknown as T[];
  const virtualServices = of<VirtualService>('VirtualService').sort(byAgeThenName);
  const destinationRules = of<DestinationRule>('DestinationRule').sort(byAgeThenName);
  const gateways = of<Gateway>('Gateway').sort((a, b) => key(a).localeCompare(key(b)));
  const serviceEntries = of<ServiceEntry>('ServiceEntry').sort(byAgeThenName);
  const sidecars = of<Sidecar>('Sidecar').sort((a, b) => key(a).localeCompare(key(b)));
  const pods = of<K8sPod>('Pod');
  const podIndex = indexPods(pods);

  const slicesBySvc = new Map<string, K8sEndpointSlice[]>();
  for (const s of of<K8sEndpointSlice>('EndpointSlice')) {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const k = `${s.metadata.namespace}/${svc}`;
    slicesBySvc.set(k, [...(slicesBySvc.get(k) ?? []), s]);
  }
  const legacy = new Map(of<K8sEndpoints>('Endpoints').map((e) => [key(e), e]));
  const kubeServices = of<K8sService>('Service')
    .filter((s) => s.spec?.type !== 'ExternalName')
    .map((s) => serviceFromKubernetes(s, (slicesBySvc.get(key(s)) ?? []).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)), legacy.get(key(s)), podIndex, domainSuffix));
  const seServices = serviceEntries.flatMap((se) => servicesFromServiceEntry(se, pods));
  const services: MeshService[] = [...kubeServices, ...seServices].sort((a, b) => a.hostname.localeCompare(b.hostname) || a.namespace.localeCompare(b.namespace));

  const hostIndex = new Map<string, MeshService>();
  for (const s of seServices) if (!hostIndex.has(s.hostname)) hostIndex.set(s.hostname, s);
  for (const s of kubeServices) hostIndex.set(s.hostname, s); // Kubernetes wins over a ServiceEntry with the same host.

  const secrets = new Map(of<K8sSecret>('Secret').map((s) => [key(s), secretFromKubernetes(s)]));
  const namespaceNames = new Set<string>(of<K8sNamespace>('Namespace').map((n) => n.metadata.name));
  const nsLabels = new Map(of<K8sNamespace>('Namespace').map((n) => [n.metadata.name, { ...(n.metadata.labels ?? {}) }]));
  for (const o of objects) if (o.kind !== 'Namespace') namespaceNames.add(o.metadata.namespace);
  const namespaces: Namespace[] = [...namespaceNames].sort().map((name) => ({ name, labels: nsLabels.get(name) ?? {} }));

  const vsByGateway = new Map<string, VirtualService[]>();
  for (const vs of virtualServices) {
    const refs = vs.spec.gateways?.length ? vs.spec.gateways : ['mesh'];
    for (const g of new Set(refs.map((r) => gatewayKey(r, vs.metadata.namespace)))) vsByGateway.set(g, [...(vsByGateway.get(g) ?? []), vs]);
  }

  // DestinationRules by namespace, host resolved to an FQDN in the rule's namespace.
  const drsByNamespace = new Map<string, Array<{ dr: DestinationRule; host: string; exportTo: string[] }>>();
  for (const dr of destinationRules) {
    const host = resolveShortName(dr.spec.host, dr.metadata.namespace, domainSuffix);
    const list = drsByNamespace.get(dr.metadata.namespace) ?? [];
    list.push({ dr, host, exportTo: parseExportTo(dr.spec.exportTo, dr.metadata.namespace) });
    drsByNamespace.set(dr.metadata.namespace, list);
  }
  const bestDrIn = (ns: string, hostname: string, clientNs: string): DestinationRule | undefined => {
    let best: { dr: DestinationRule; score: number } | undefined;
    for (const c of drsByNamespace.get(ns) ?? []) {
      if (c.dr.spec.workloadSelector) continue;
      if (!isVisibleTo(c.exportTo, clientNs)) continue;
      if (!hostMatches(c.host, hostname)) continue;
      const score = hostSpecificity(c.host);
      if (!best || score > best.score) best = { dr: c.dr, score };
    }
    return best?.dr;
  };

  const snapshot: ConfigSnapshot = {
    version: opts.version ?? 0,
    mesh: { rootNamespace, domainSuffix },
    virtualServices, destinationRules, gateways, serviceEntries, sidecars, services, namespaces,
    serviceByHost: (h) => hostIndex.get(h),
    secret: (ns, name) => secrets.get(`${ns}/${name}`),
    workloadLabels: (ns, name, ip) => {
      const pod = podIndex.byName.get(`${ns}/${name}`) ?? (ip ? podIndex.byIp.get(ip) : undefined);
      return pod ? { ...(pod.metadata.labels ?? {}) } : undefined;
    },
    gatewaysForWorkload: (labels) => gateways.filter((g) => labelsMatch(g.spec.selector, labels)),
    virtualServicesForGateway: (gw) => vsByGateway.get(gw) ?? [],
    meshVirtualServices: () => vsByGateway.get('mesh') ?? [],
    destinationRuleFor: (hostname, clientNs, serviceNs) => {
      const order = [clientNs, serviceNs ?? hostIndex.get(hostname)?.namespace, rootNamespace].filter((x): x is string => !!x);
      for (const ns of [...new Set(order)]) {
        const dr = bestDrIn(ns, hostname, clientNs);
        if (dr) return dr;
      }
      return undefined;
    },
  };
  return snapshot;
}
