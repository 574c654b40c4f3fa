/**
 * A sidecar's inbound side: virtualInbound on 15006 restores the original destination and picks a
 * filter chain by destination port; each workload port (from the services that select this pod,
 * or the Sidecar's ingress listeners) goes to inbound|PORT|| which reaches the app on loopback.
 * Anything else passes through to its original destination (InboundPassthroughCluster).
 */
import type { ConnectionPoolSettings, IstioIngressListener } from '../api/index.js';
import type { ConfigSnapshot, Protocol } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { parseProtocol } from '../registry/services.js';
import type { SidecarScope } from './scope.js';
import { circuitBreakers, httpProtocolOptions } from './clusters.js';
import { buildDownstreamTls } from './downstream-tls.js';
import { protoDuration } from './durations.js';
import type { NamedResource } from './types.js';

type Obj = Record<string, unknown>;

export const INBOUND_PASSTHROUGH = 'InboundPassthroughCluster';
/** Source address of Envoy's connections to the app (capture lets it through; Istio's choice). */
const INBOUND_SOURCE = '127.0.0.6';
const HTTP = new Set<Protocol>(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

export interface InboundPort {
  port: number;
  protocol: Protocol;
  /** Where the app listens: host:port (loopback by default; the pod IP for a 0.0.0.0:PORT defaultEndpoint) or a unix socket path. */
  endpoint: AppEndpoint;
  /** The Sidecar ingress listener that declared the port, if any. */
  listener?: IstioIngressListener;
}

export type AppEndpoint = { host: string; port: number } | { pipe: string };

/**
 * Where a Sidecar ingress listener sends requests: defaultEndpoint "127.0.0.1:PORT" (loopback),
 * "0.0.0.0:PORT" (Istio: the workload's own IP, for apps that do not listen on loopback) or
 * "unix:///path"; without a defaultEndpoint, loopback on the port's targetPort (else its number).
 */
export function ingressEndpoint(l: IstioIngressListener, podIp: string | undefined): AppEndpoint {
  const fallbackPort = l.port.targetPort ?? l.port.number;
  if (!l.defaultEndpoint) return { host: '127.0.0.1', port: fallbackPort };
  if (l.defaultEndpoint.startsWith('unix://')) return { pipe: l.defaultEndpoint.slice('unix://'.length) };
  const m = /^(?:\[(.+)\]|([^:]+)):(\d+)$/.exec(l.defaultEndpoint);
  if (!m) return { host: '127.0.0.1', port: fallbackPort };
  const host = m[1] ?? m[2];
  return { host: host === '0.0.0.0' ? (podIp ?? '127.0.0.1') : host, port: Number(m[3]) };
}

export function workloadPorts(snapshot: ConfigSnapshot, proxy: ProxyInfo, scope: SidecarScope): InboundPort[] {
  const byPort = new Map<number, InboundPort>();
  const ingress = scope.sidecar?.spec.ingress;
  if (ingress?.length) {
    for (const l of ingress) {
      byPort.set(l.port.number, { port: l.port.number, protocol: parseProtocol(l.port.protocol), endpoint: ingressEndpoint(l, proxy.ips[0]), listener: l });
    }
    return [...byPort.values()].sort((a, b) => a.port - b.port);
  }
  for (const svc of snapshot.services) {
    if (svc.namespace !== proxy.namespace) continue;
    for (const ep of svc.endpoints) {
      if (!proxy.ips.includes(ep.address)) continue;
      for (const sp of svc.ports) {
        const target = ep.ports[sp.name] ?? sp.targetPort ?? sp.port;
        if (!byPort.has(target)) byPort.set(target, { port: target, protocol: sp.protocol, endpoint: { host: '127.0.0.1', port: target } });
      }
    }
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}

export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

export interface InboundResult {
  listeners: NamedResource[];
  clusters: NamedResource[];
  /** SDS secrets of ingress listeners terminating TLS with a credentialName. */
  secrets: NamedResource[];
  /** Ingress listeners left out, with the reason. */
  notes: string[];
}

/**
 * The inbound cluster to the app: its connection pool is the ingress listener's, else the Sidecar's
 * inboundConnectionPool (Istio's precedence); source 127.0.0.6 so that capture lets it through,
 * also when the app is reached on the pod IP.
 */
function inboundCluster(p: InboundPort, pool: ConnectionPoolSettings | undefined): NamedResource {
  const cluster = inboundClusterName(p.port);
  const hpo = httpProtocolOptions({ name: '', port: p.port, protocol: p.protocol }, pool);
  return { name: cluster, value: {
    name: cluster, type: 'STATIC', connectTimeout: protoDuration(pool?.tcp?.connectTimeout ?? '10s'),
    loadAssignment: { clusterName: cluster, endpoints: [{ lbEndpoints: [{ endpoint: { address: 'pipe' in p.endpoint
      ? { pipe: { path: p.endpoint.pipe } }
      : { socketAddress: { address: p.endpoint.host, portValue: p.endpoint.port } } } }] }] },
    circuitBreakers: circuitBreakers(pool),
    ...('pipe' in p.endpoint ? {} : { upstreamBindConfig: { sourceAddress: { address: INBOUND_SOURCE, portValue: 0 } } }),
    ...(hpo ? { typedExtensionProtocolOptions: hpo } : {}),
  } };
}

export function buildSidecarInbound(snapshot: ConfigSnapshot, proxy: ProxyInfo, scope: SidecarScope): InboundResult {
  const ports = workloadPorts(snapshot, proxy, scope);
  const chains: Obj[] = [];
  const clusters: NamedResource[] = [];
  const secrets: NamedResource[] = [];
  const notes: string[] = [];
  const sidecarName = scope.sidecar ? `Sidecar ${scope.sidecar.metadata.namespace}/${scope.sidecar.metadata.name}` : '';
  for (const p of ports) {
    const cluster = inboundClusterName(p.port);
    let transportSocket: Obj | undefined;
    const tls = p.listener?.tls;
    if (tls && tls.mode !== 'ISTIO_MUTUAL') {
      const built = buildDownstreamTls(snapshot, proxy.namespace, tls, HTTP.has(p.protocol) || p.protocol === 'HTTPS' ? ['h2', 'http/1.1'] : []);
      if (!built.ok) {
        notes.push(`${sidecarName} ingress port ${p.port}: tls skipped, ${built.reason}`);
        continue;
      }
      transportSocket = built.transportSocket;
      secrets.push(...built.secrets);
    }
    clusters.push(inboundCluster(p, p.listener?.connectionPool ?? scope.sidecar?.spec.inboundConnectionPool));
    const statPrefix = `inbound_0.0.0.0_${p.port}`;
    // A terminated HTTPS port carries HTTP inside.
    const http = HTTP.has(p.protocol) || (p.protocol === 'HTTPS' && transportSocket !== undefined);
    const filter = http
      ? { name: 'envoy.filters.network.http_connection_manager', typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        statPrefix, codecType: 'AUTO',
        routeConfig: { name: `inbound|${p.port}||`, virtualHosts: [{ name: `inbound|http|${p.port}`, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: { seconds: 0, nanos: 0 } } }] }], validateClusters: { value: false } },
        httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        normalizePath: { value: true }, upgradeConfigs: [{ upgradeType: 'websocket' }],
      } }
      : { name: 'envoy.filters.network.tcp_proxy', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', statPrefix, cluster } };
    chains.push({ name: `0.0.0.0_${p.port}`, filterChainMatch: { destinationPort: { value: p.port } }, filters: [filter], ...(transportSocket ? { transportSocket } : {}) });
  }
  chains.push({ name: 'virtualInbound-catchall-tcp', filters: [{ name: 'envoy.filters.network.tcp_proxy', typedConfig: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', statPrefix: INBOUND_PASSTHROUGH, cluster: INBOUND_PASSTHROUGH } }] });
  const listener: NamedResource = { name: 'virtualInbound', value: {
    name: 'virtualInbound', address: { socketAddress: { address: '0.0.0.0', portValue: 15006 } }, trafficDirection: 'INBOUND',
    listenerFilters: [{ name: 'envoy.filters.listener.original_dst', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }],
    filterChains: chains,
  } };
  // Ingress listeners with captureMode NONE are bound for real on bind:port (no iptables).
  const bound: NamedResource[] = [];
  for (const l of scope.sidecar?.spec.ingress ?? []) {
    if (l.captureMode !== 'NONE') continue;
    const p = ports.find((x) => x.port === l.port.number);
    const chain = chains.find((c) => c.name === `0.0.0.0_${l.port.number}`);
    if (!p || !chain) continue;
    const bind = l.bind ?? '0.0.0.0';
    const name = `${bind}_${l.port.number}`;
    bound.push({ name, value: {
      name, address: { socketAddress: { address: bind, portValue: l.port.number } }, trafficDirection: 'INBOUND',
      filterChains: [{ filters: chain.filters, ...(chain.transportSocket ? { transportSocket: chain.transportSocket } : {}) }],
    } });
  }
  return { listeners: [listener, ...bound], clusters, secrets, notes };
}

/** The clusters every sidecar has: PassthroughCluster, BlackHoleCluster, InboundPassthroughCluster. */
export function specialClusters(): NamedResource[] {
  return [
    { name: 'BlackHoleCluster', value: { name: 'BlackHoleCluster', type: 'STATIC', connectTimeout: { seconds: 10, nanos: 0 } } },
    { name: INBOUND_PASSTHROUGH, value: {
      name: INBOUND_PASSTHROUGH, type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: { seconds: 10, nanos: 0 },
      // Istio's source address for passthrough: iptables lets it through without recapture.
      upstreamBindConfig: { sourceAddress: { address: INBOUND_SOURCE, portValue: 0 } },
    } },
    { name: 'PassthroughCluster', value: { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: { seconds: 10, nanos: 0 } } },
  ];
}
