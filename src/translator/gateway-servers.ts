/**
 * Which Gateway servers a gateway proxy serves, grouped by listener (bind + port), and which
 * VirtualService hosts each server exposes — Istio's host intersection with namespace rules.
 */
import { isTlsProtocol, type Gateway, type Server, type VirtualService } from '../api/index.js';
import { intersectHosts } from '../registry/hosts.js';
import type { ConfigSnapshot } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';

export type ServerKind = 'http' | 'https' | 'tcp' | 'tls-passthrough';

export interface GatewayServer {
  gateway: Gateway;
  server: Server;
  index: number;
  kind: ServerKind;
  /** The RDS name of its route configuration (HTTP kinds only). */
  routeName: string;
}

export interface ListenerGroup {
  name: string;
  bind: string;
  port: number;
  servers: GatewayServer[];
}

export function gatewayRef(g: Gateway): string {
  return `${g.metadata.namespace}/${g.metadata.name}`;
}

export function serverKind(s: Server): ServerKind {
  const p = s.port.protocol.toUpperCase();
  if (isTlsProtocol(p)) {
    const mode = s.tls?.mode ?? 'PASSTHROUGH';
    if (p === 'HTTPS' || mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL' || mode === 'ISTIO_MUTUAL') return p === 'HTTPS' ? 'https' : 'tcp';
    return 'tls-passthrough';
  }
  if (p === 'TCP' || p === 'MONGO' || p === 'REDIS' || p === 'MYSQL') return 'tcp';
  return 'http';
}

/** Istio's RDS names: http.PORT for plain HTTP, https.PORT.PORTNAME.GATEWAY.NAMESPACE for TLS-terminated servers. */
export function routeNameFor(g: Gateway, s: Server, kind: ServerKind): string {
  if (kind === 'https') return `https.${s.port.number}.${s.port.name ?? 'https'}.${g.metadata.name}.${g.metadata.namespace}`;
  return `http.${s.port.number}`;
}

export function listenerGroups(snapshot: ConfigSnapshot, proxy: ProxyInfo): ListenerGroup[] {
  const groups = new Map<string, ListenerGroup>();
  for (const g of snapshot.gatewaysForWorkload(proxy.labels)) {
    (g.spec.servers ?? []).forEach((server, index) => {
      const bind = server.bind ?? '0.0.0.0';
      if (bind.startsWith('unix://')) return;
      const name = `${bind}_${server.port.number}`;
      const kind = serverKind(server);
      let group = groups.get(name);
      if (!group) groups.set(name, (group = { name, bind, port: server.port.number, servers: [] }));
      group.servers.push({ gateway: g, server, index, kind, routeName: routeNameFor(g, server, kind) });
    });
  }
  return [...groups.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Server host "ns/host" → does it admit a VirtualService from vsNamespace? Returns the host part if so. */
export function serverHostFor(serverHost: string, gatewayNamespace: string, vsNamespace: string): string | undefined {
  const slash = serverHost.indexOf('/');
  if (slash < 0) return serverHost;
  const ns = serverHost.slice(0, slash);
  const host = serverHost.slice(slash + 1);
  if (ns === '*' || ns === vsNamespace || (ns === '.' && vsNamespace === gatewayNamespace)) return host;
  return undefined;
}

/** VirtualService hosts visible to this proxy's namespace (exportTo), intersected with the server's hosts. */
export function exposedHosts(s: GatewayServer, vs: VirtualService, proxyNamespace: string): string[] {
  const exportTo = vs.spec.exportTo ?? ['*'];
  const visible = exportTo.includes('*') || exportTo.includes(proxyNamespace) || (exportTo.includes('.') && vs.metadata.namespace === proxyNamespace);
  if (!visible) return [];
  const out = new Set<string>();
  for (const sh of s.server.hosts) {
    const host = serverHostFor(sh, s.gateway.metadata.namespace, vs.metadata.namespace);
    if (host === undefined) continue;
    for (const vh of vs.spec.hosts ?? []) {
      const i = intersectHosts(host, vh);
      if (i !== undefined) out.add(i);
    }
  }
  return [...out].sort();
}
