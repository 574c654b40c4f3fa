/**
 * What a sidecar sees: the Sidecar resource that applies to it (workload selector, then its
 * namespace's default, then the root namespace's default) and the services and VirtualServices
 * visible through exportTo and that Sidecar's egress hosts.
 */
import type { IstioEgressListener, Sidecar, VirtualService } from '../api/index.js';
import { hostMatches, resolveShortName } from '../registry/hosts.js';
import type { ConfigSnapshot, MeshService } from '../registry/model.js';
import { isVisibleTo, labelsMatch } from '../registry/services.js';
import type { ProxyInfo } from '../proxy/node.js';

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
}

export function computeScope(snapshot: ConfigSnapshot, proxy: ProxyInfo): SidecarScope {
  const sidecar = sidecarFor(snapshot, proxy);
  const egress = sidecar?.spec.egress;
  const services = snapshot.services.filter((s) =>
    isVisibleTo(s.exportTo, proxy.namespace) && egressListenerAdmits(egress, s.namespace, s.hostname, proxy.namespace) && snapshot.serviceByHost(s.hostname) === s);
  const virtualServices = snapshot.meshVirtualServices().filter((vs) => {
    const exportTo = vs.spec.exportTo ?? ['*'];
    const visible = exportTo.includes('*') || exportTo.includes(proxy.namespace) || (exportTo.includes('.') && vs.metadata.namespace === proxy.namespace);
    if (!visible) return false;
    return (vs.spec.hosts ?? []).some((h) => egressListenerAdmits(egress, vs.metadata.namespace, resolveShortName(h, vs.metadata.namespace, snapshot.mesh.domainSuffix), proxy.namespace));
  });
  return { sidecar, services, virtualServices, outboundPolicy: sidecar?.spec.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY' };
}
