/**
 * A sidecar's inbound side: virtualInbound on 15006 restores the original destination and picks a
 * filter chain by destination port; each workload port (from the services that select this pod,
 * or the Sidecar's ingress listeners) goes to inbound|PORT|| which reaches the app on loopback.
 * Anything else passes through to its original destination (InboundPassthroughCluster).
 */
import type { ConfigSnapshot, Protocol } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { parseProtocol } from '../registry/services.js';
import type { SidecarScope } from './scope.js';
import type { NamedResource } from './types.js';

type Obj = Record<string, unknown>;

export const INBOUND_PASSTHROUGH = 'InboundPassthroughCluster';
const HTTP = new Set<Protocol>(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

export interface InboundPort {
  port: number;
  protocol: Protocol;
  /** Where the app listens: host:port (loopback by default). */
  endpoint: { host: string; port: number };
}

export function workloadPorts(snapshot: ConfigSnapshot, proxy: ProxyInfo, scope: SidecarScope): InboundPort[] {
  const byPort = new Map<number, InboundPort>();
  const ingress = scope.sidecar?.spec.ingress;
  if (ingress?.length) {
    for (const l of ingress) {
      const def = l.defaultEndpoint ?? `127.0.0.1:${l.port.targetPort ?? l.port.number}`;
      const m = /^(?:\[(.+)\]|([^:]+)):(\d+)$/.exec(def);
      const host = m ? (m[1] ?? m[2]) : '127.0.0.1';
      byPort.set(l.port.number, { port: l.port.number, protocol: parseProtocol(l.port.protocol), endpoint: { host: host === '0.0.0.0' ? '127.0.0.1' : host, port: m ? Number(m[3]) : l.port.number } });
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
}

export function buildSidecarInbound(snapshot: ConfigSnapshot, proxy: ProxyInfo, scope: SidecarScope): InboundResult {
  const ports = workloadPorts(snapshot, proxy, scope);
  const chains: Obj[] = [];
  const clusters: NamedResource[] = [];
  for (const p of ports) {
    const cluster = inboundClusterName(p.port);
    clusters.push({ name: cluster, value: {
      name: cluster, type: 'STATIC', connectTimeout: { seconds: 10, nanos: 0 },
      loadAssignment: { clusterName: cluster, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: p.endpoint.host, portValue: p.endpoint.port } } } }] }] },
      ...(p.protocol === 'HTTP2' || p.protocol === 'GRPC' ? { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } } } : {}),
    } });
    const statPrefix = `inbound_0.0.0.0_${p.port}`;
    const filter = HTTP.has(p.protocol)
      ? { name: 'envoy.filters.network.http_connection_manager', typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        statPrefix, codecType: 'AUTO',
        routeConfig: { name: `inbound|${p.port}||`, virtualHosts: [{ name: `inbound|http|${p.port}`, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: { seconds: 0, nanos: 0 } } }] }], validateClusters: { value: false } },
        httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        normalizePath: { value: true }, upgradeConfigs: [{ upgradeType: 'websocket' }],
      } }
      : { name: 'envoy.filters.network.tcp_proxy', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', statPrefix, cluster } };
    chains.push({ name: `0.0.0.0_${p.port}`, filterChainMatch: { destinationPort: { value: p.port } }, filters: [filter] });
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
      filterChains: [{ filters: chain.filters }],
    } });
  }
  return { listeners: [listener, ...bound], clusters };
}

/** The clusters every sidecar has: PassthroughCluster, BlackHoleCluster, InboundPassthroughCluster. */
export function specialClusters(): NamedResource[] {
  return [
    { name: 'BlackHoleCluster', value: { name: 'BlackHoleCluster', type: 'STATIC', connectTimeout: { seconds: 10, nanos: 0 } } },
    { name: INBOUND_PASSTHROUGH, value: {
      name: INBOUND_PASSTHROUGH, type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: { seconds: 10, nanos: 0 },
      // Istio's source address for passthrough: iptables lets it through without recapture.
      upstreamBindConfig: { sourceAddress: { address: '127.0.0.6', portValue: 0 } },
    } },
    { name: 'PassthroughCluster', value: { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: { seconds: 10, nanos: 0 } } },
  ];
}
