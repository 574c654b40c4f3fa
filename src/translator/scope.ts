/**
 * What a sidecar sees: the Sidecar resource that applies to it (workload selector, then its
 * namespace's default, then the root namespace's default) and the services and VirtualServices
 * visible through exportTo and that Sidecar's egress hosts.
 *
 * One service per hostname, chosen as Istio does: a Kubernetes Service shadows a ServiceEntry of
 * the same host in the same namespace; among the rest, the one in the proxy's own namespace wins,
 * else the first visible one (registry order).
 */
import type { IstioEgressListener, Sidecar, VirtualService } from '../api/index.js';
import { hostMatches, resolveShortName } from '../registry/hosts.js';
import type { ConfigSnapshot, MeshService, ServicePort } from '../registry/model.js';
import { isVisibleTo, labelsMatch } from '../registry/services.js';
import type { ProxyInfo } from '../proxy/node.js';
import { outboundClusterName } from './destinations.js';

export function sidecarFor(snapshot: ConfigSnapshot, proxy: ProxyInfo): Sidecar | undefined {
  const inNs = snapshot.sidecars.filter((s) => s.metadata.namespace === proxy.namespace);
  const selected = inNs.find((s) => s.spec.workloadSelector && Object.keys(s.spec.workloadSelector.labels ?? {}).length > 0 && labelsMatch(s.spec.workloadSelector.labels, proxy.labels));
  if (selected) return selected;
  const nsDefault = inNs.find((s) => !s.spec.workloadSelector);
  if (nsDefault) return nsDefault;
  return snapshot.sidecars.find((s) => s.metadata.namespace === snapshot.mesh.rootNamespace && !s.spec.workloadSelector);
}

/** Does an egress host "ns/host" admit a host declared in a given namespace? */
export function egressAdmits(egressHost: string, hostNamespace: string, host: string, proxyNamespace: string): boolean {
  const slash = egressHost.indexOf('/');
  const ns = egressHost.slice(0, slash);
  const pattern = egressHost.slice(slash + 1);
  if (ns === '~') return false;
  if (ns !== '*' && !(ns === '.' ? hostNamespace === proxyNamespace : ns === hostNamespace)) return false;
  return hostMatches(pattern, host);
}

export function egressListenerAdmits(listeners: readonly IstioEgressListener[] | undefined, hostNamespace: string, host: string, proxyNamespace: string): boolean {
  if (!listeners || listeners.length === 0) return true;
  return listeners.some((l) => l.hosts.some((h) => egressAdmits(h, hostNamespace, host, proxyNamespace)));
}

export interface SidecarScope {
  sidecar?: Sidecar;
  services: MeshService[];
  virtualServices: VirtualService[];
  outboundPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /**
   * The ports of a service this proxy gets outbound listeners for: all of them when an egress
   * listener without a port admits the service (or there is no Sidecar egress), else only the
   * ports named by the egress listeners (with a port) that admit it.
   */
  portsOf(svc: MeshService): readonly ServicePort[];
  /** outboundTrafficPolicy.egressProxy resolved to its cluster (ALLOW_ANY only), when it names a known service. */
  egressProxy?: { cluster: string; service: MeshService };
}

/** A Kubernetes Service shadows ServiceEntries of the same host in its namespace (Istio's precedence). */
function shadowedByKubernetes(snapshot: ConfigSnapshot): (s: MeshService) => boolean {
  const kube = new Set(snapshot.services.filter((s) => s.source === 'kubernetes').map((s) => `${s.namespace}/${s.hostname}`));
  return (s) => s.source === 'serviceentry' && kube.has(`${s.namespace}/${s.hostname}`);
}

/** One service per hostname among the candidates: own namespace first, else the first one. */
export function pickPerHost(candidates: readonly MeshService[], proxyNamespace: string): MeshService[] {
  const chosen = new Map<string, MeshService>();
  for (const s of candidates) {
    const existing = chosen.get(s.hostname);
    if (!existing || (existing.namespace !== proxyNamespace && s.namespace === proxyNamespace)) chosen.set(s.hostname, s);
  }
  return candidates.filter((s) => chosen.get(s.hostname) === s);
}

function portsFor(egress: readonly IstioEgressListener[] | undefined, proxyNamespace: string): (svc: MeshService) => readonly ServicePort[] {
  if (!egress?.length) return (svc) => svc.ports;
  return (svc) => {
    const admitting = egress.filter((l) => l.hosts.some((h) => egressAdmits(h, svc.namespace, svc.hostname, proxyNamespace)));
    if (admitting.some((l) => !l.port)) return svc.ports;
    const numbers = new Set(admitting.map((l) => l.port!.number));
    return svc.ports.filter((p) => numbers.has(p.port));
  };
}

export function computeScope(snapshot: ConfigSnapshot, proxy: ProxyInfo): SidecarScope {
  const sidecar = sidecarFor(snapshot, proxy);
  const egress = sidecar?.spec.egress;
  const shadowed = shadowedByKubernetes(snapshot);
  const visible = snapshot.services.filter((s) => isVisibleTo(s.exportTo, proxy.namespace) && !shadowed(s));
  const services = pickPerHost(visible.filter((s) => egressListenerAdmits(egress, s.namespace, s.hostname, proxy.namespace)), proxy.namespace);
  const virtualServices = snapshot.meshVirtualServices().filter((vs) => {
    const exportTo = vs.spec.exportTo ?? ['*'];
    const isVisible = exportTo.includes('*') || exportTo.includes(proxy.namespace) || (exportTo.includes('.') && vs.metadata.namespace === proxy.namespace);
    if (!isVisible) return false;
    return (vs.spec.hosts ?? []).some((h) => egressListenerAdmits(egress, vs.metadata.namespace, resolveShortName(h, vs.metadata.namespace, snapshot.mesh.domainSuffix), proxy.namespace));
  });
  const policy = sidecar?.spec.outboundTrafficPolicy;
  // Without outboundTrafficPolicy the mesh default (ALLOW_ANY) applies; a policy without a mode is
  // REGISTRY_ONLY, the zero value of Istio's enum.
  const outboundPolicy = policy ? (policy.mode ?? 'REGISTRY_ONLY') : 'ALLOW_ANY';
  const scope: SidecarScope = { sidecar, services, virtualServices, outboundPolicy, portsOf: portsFor(egress, proxy.namespace) };
  const ep = policy?.egressProxy;
  if (ep && outboundPolicy === 'ALLOW_ANY') {
    const host = resolveShortName(ep.host, sidecar!.metadata.namespace, snapshot.mesh.domainSuffix);
    const service = services.find((s) => s.hostname === host) ?? pickPerHost(visible.filter((s) => s.hostname === host), proxy.namespace)[0];
    const port = ep.port?.number ?? (service?.ports.length === 1 ? service.ports[0].port : undefined);
    if (service && port !== undefined && service.ports.some((p) => p.port === port)) {
      // The egress proxy's cluster must exist even when the Sidecar's egress hosts leave it out.
      if (!services.includes(service)) services.push(service);
      scope.egressProxy = { cluster: outboundClusterName(port, ep.subset ?? '', host), service };
    }
  }
  return scope;
}
