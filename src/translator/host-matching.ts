/**
 * Which VirtualService hosts a Gateway server exposes, with Istio's rules: a server host may be
 * scoped to a namespace ("ns/host", "./host" = the Gateway's namespace, "*\/host" = any), hosts are
 * intersected wildcard-aware (the more specific of two overlapping hosts wins), and VirtualService
 * short names are qualified in the VirtualService's namespace first.
 */
import type { Server, VirtualService } from '../api/index.js';
import { intersectHosts, resolveShortName } from '../registry/hosts.js';
import { compareStrings } from './ordering.js';

/** The host part of a server host if it admits VirtualServices of vsNamespace, else undefined. */
export function serverHostFor(serverHost: string, gatewayNamespace: string, vsNamespace: string): string | undefined {
  const slash = serverHost.indexOf('/');
  if (slash < 0) return serverHost;
  const ns = serverHost.slice(0, slash);
  const host = serverHost.slice(slash + 1);
  if (ns === '*' || ns === vsNamespace || (ns === '.' && vsNamespace === gatewayNamespace)) return host;
  return undefined;
}

/** A server host without its namespace part. */
export function serverHostName(serverHost: string): string {
  const slash = serverHost.indexOf('/');
  return slash < 0 ? serverHost : serverHost.slice(slash + 1);
}

/** exportTo of a VirtualService as seen from a proxy namespace (unset = everywhere). */
export function isVirtualServiceVisible(vs: VirtualService, proxyNamespace: string): boolean {
  const exportTo = vs.spec.exportTo?.length ? vs.spec.exportTo : ['*'];
  return exportTo.includes('*') || exportTo.includes(proxyNamespace) || (exportTo.includes('.') && vs.metadata.namespace === proxyNamespace);
}

/** VirtualService hosts as Istio stores them: short names qualified in the VirtualService namespace, lower-cased. */
export function virtualServiceHosts(vs: VirtualService, domainSuffix: string): string[] {
  return (vs.spec.hosts ?? []).map((h) => resolveShortName(h.toLowerCase(), vs.metadata.namespace, domainSuffix));
}

/** The hosts a server exposes for a VirtualService: every overlapping (server host, VS host) pair's more specific host. */
export function exposedHosts(serverHosts: readonly string[], gatewayNamespace: string, vs: VirtualService, domainSuffix: string): string[] {
  const vsHosts = virtualServiceHosts(vs, domainSuffix);
  const out = new Set<string>();
  for (const sh of serverHosts) {
    const host = serverHostFor(sh.toLowerCase(), gatewayNamespace, vs.metadata.namespace);
    if (host === undefined) continue;
    for (const vh of vsHosts) {
      const i = intersectHosts(host, vh);
      if (i !== undefined) out.add(i);
    }
  }
  return [...out].sort(compareStrings);
}

/** SNI names a TLS server matches on: its hosts without namespaces; none (match all) when one is "*". */
export function sniHostsFor(server: Server): string[] {
  const hosts = [...new Set(server.hosts.map((h) => serverHostName(h).toLowerCase()))].sort(compareStrings);
  return hosts.includes('*') ? [] : hosts;
}
