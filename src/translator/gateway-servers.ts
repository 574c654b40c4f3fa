/**
 * Merging the servers of every Gateway that selects a gateway proxy into listeners, as Istio does:
 * servers are grouped by bind address + port; plain-text servers on a port must all be HTTP
 * (merged into one route configuration http.PORT); TLS servers share a port by SNI, a TLS host may
 * appear only once per port; a conflicting server is skipped with a note. The listen port is the
 * gateway Service's targetPort for the server port when a Service selects the gateway workload.
 */
import type { Gateway, Server } from '../api/index.js';
import type { ConfigSnapshot, Protocol } from '../registry/model.js';
import { parseProtocol } from '../registry/services.js';
import type { ProxyInfo } from '../proxy/node.js';
import { serverHostName } from './host-matching.js';
import { byName } from './ordering.js';

/**
 * http: plain HTTP (possibly with tls.httpsRedirect); https: HTTPS terminated here;
 * tls-terminated: non-HTTP protocol with TLS terminated here (then TCP routes);
 * tls-passthrough: TLS forwarded by SNI (TLS routes); tcp: opaque TCP (TCP routes).
 */
export type ServerKind = 'http' | 'https' | 'tls-terminated' | 'tls-passthrough' | 'tcp';

export interface GatewayServer {
  gateway: Gateway;
  /** "namespace/name" of the Gateway. */
  gatewayRef: string;
  server: Server;
  /** Index in spec.servers (for notes). */
  index: number;
  kind: ServerKind;
  protocol: Protocol;
  /** The port Envoy listens on (targetPort of the gateway Service port, else the server port). */
  listenPort: number;
  /** RDS name (HTTP kinds), '' otherwise. */
  routeName: string;
}

export interface ListenerGroup {
  /** Listener name BIND_PORT. */
  name: string;
  bind: string;
  port: number;
  servers: GatewayServer[];
}

export interface MergedGateway {
  groups: ListenerGroup[];
  notes: string[];
}

const HTTP_PROTOCOLS = new Set<Protocol>(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

export function isHttpProtocol(p: Protocol): boolean {
  return HTTP_PROTOCOLS.has(p);
}

export function gatewayRef(g: Gateway): string {
  return `${g.metadata.namespace}/${g.metadata.name}`;
}

export function serverKind(s: Server): ServerKind {
  const p = parseProtocol(s.port.protocol);
  if (isHttpProtocol(p)) return 'http';
  if (!s.tls) return 'tcp';
  const mode = s.tls.mode ?? 'PASSTHROUGH';
  if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') return 'tls-passthrough';
  return p === 'HTTPS' ? 'https' : 'tls-terminated';
}

/** Istio's RDS names: http.PORT[.BIND] for plain HTTP, https.PORT.PORTNAME.GATEWAY.NAMESPACE[.BIND] for terminated HTTPS. */
export function routeNameFor(g: Gateway, s: Server, kind: ServerKind, listenPort: number): string {
  const bind = s.bind ? `.${s.bind}` : '';
  if (kind === 'http') return `http.${listenPort}${bind}`;
  if (kind === 'https') return `https.${s.port.number}.${s.port.name ?? ''}.${g.metadata.name}.${g.metadata.namespace}${bind}`;
  return '';
}

/**
 * The port to listen on for a server port: when a Service has the gateway workload as an endpoint
 * and exposes that port, its target port (Istio's port translation, e.g. 80 → 8080); else the port itself.
 */
export function gatewayListenPort(snapshot: ConfigSnapshot, proxy: ProxyInfo, serverPort: number): number {
  for (const svc of snapshot.services) {
    const sp = svc.ports.find((p) => p.port === serverPort);
    if (!sp) continue;
    const ep = svc.endpoints.find((e) => proxy.ips.includes(e.address));
    if (ep) return ep.ports[sp.name] ?? sp.targetPort ?? sp.port;
  }
  return serverPort;
}

function describe(s: GatewayServer): string {
  return `Gateway ${s.gatewayRef} spec.servers[${s.index}] (port ${s.server.port.number} ${s.server.port.protocol})`;
}

export function mergeGatewayServers(snapshot: ConfigSnapshot, proxy: ProxyInfo): MergedGateway {
  const notes: string[] = [];
  const groups = new Map<string, ListenerGroup>();
  const portsSeen = new Set<number>();
  const plainText = new Map<number, { bind: string; protocol: Protocol }>();
  const nonPlainBinds = new Map<number, Set<string>>();
  const tlsHosts = new Map<number, Map<string, string>>();
  const routeNames = new Set<string>();

  const add = (s: GatewayServer, bind: string) => {
    const name = `${bind}_${s.listenPort}`;
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { name, bind, port: s.listenPort, servers: [] }));
    g.servers.push(s);
    if (s.routeName) routeNames.add(s.routeName);
  };

  for (const gateway of snapshot.gatewaysForWorkload(proxy.labels)) {
    (gateway.spec.servers ?? []).forEach((server, index) => {
      const bind = server.bind || '0.0.0.0';
      const kind = serverKind(server);
      const protocol = parseProtocol(server.port.protocol);
      const listenPort = gatewayListenPort(snapshot, proxy, server.port.number);
      const s: GatewayServer = { gateway, gatewayRef: gatewayRef(gateway), server, index, kind, protocol, listenPort, routeName: routeNameFor(gateway, server, kind, listenPort) };
      if (bind.startsWith('unix://')) {
        notes.push(`${describe(s)}: unix domain socket binds are not supported; skipped`);
        return;
      }
      if (server.tls?.mode === 'ISTIO_MUTUAL') {
        // TODO(mesh mTLS): ISTIO_MUTUAL needs the gateway's workload certificate and the mesh root CA
        // (SDS "default" / "ROOTCA"), which only a mesh certificate authority can issue.
        notes.push(`${describe(s)}: tls mode ISTIO_MUTUAL needs mesh workload certificates, which meshpilot does not issue; skipped`);
        return;
      }
      if (server.tls) {
        // Envoy rejects two filter chains with the same match: a TLS host may appear once per port and bind.
        const known = tlsHosts.get(listenPort) ?? new Map<string, string>();
        tlsHosts.set(listenPort, known);
        const dups = server.hosts.filter((h) => known.get(h) === bind);
        if (dups.length) {
          notes.push(`${describe(s)}: host(s) ${dups.join(', ')} already served with TLS on this port; skipped`);
          return;
        }
        for (const h of server.hosts) known.set(h, bind);
      }
      if (!portsSeen.has(listenPort)) {
        portsSeen.add(listenPort);
        if (!(server.tls && !isHttpProtocol(protocol))) plainText.set(listenPort, { bind, protocol });
        add(s, bind);
        return;
      }
      const current = plainText.get(listenPort);
      if (current) {
        if (current.bind === bind && !(isHttpProtocol(current.protocol) && isHttpProtocol(protocol))) {
          notes.push(`${describe(s)}: conflicts with the ${current.protocol} server already on this port; skipped`);
          return;
        }
        add(s, bind);
        return;
      }
      if (kind === 'http' || kind === 'https') {
        if (routeNames.has(s.routeName)) {
          notes.push(`${describe(s)}: route ${s.routeName} already exists (port names must be unique per port); skipped`);
          return;
        }
      }
      const binds = nonPlainBinds.get(listenPort) ?? new Set<string>();
      nonPlainBinds.set(listenPort, binds);
      const newBind = !binds.has(bind);
      binds.add(bind);
      if (!server.tls && !newBind) {
        notes.push(`${describe(s)}: plain-text server on a TLS port; skipped`);
        return;
      }
      add(s, bind);
    });
  }
  return { groups: [...groups.values()].sort(byName), notes };
}

/** Hosts of a server without namespace scoping (for redirect virtual hosts). */
export function plainServerHosts(s: Server): string[] {
  return [...new Set(s.hosts.map((h) => serverHostName(h).toLowerCase()))];
}
