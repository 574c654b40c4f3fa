/**
 * Gateway listeners, one per bind:port: a single HTTP connection manager chain for plain HTTP
 * servers (route http.PORT), a TLS-terminating chain per HTTPS server selected by SNI (route
 * https.PORT.NAME.GATEWAY.NS, certificates over SDS), tcp_proxy chains for TCP / TLS servers
 * (AUTO_PASSTHROUGH: one per outbound cluster, by Istio's cluster SNI).
 * A server whose chain cannot be built (missing secret, no route) is left out with a note; a
 * listener without chains is not emitted.
 */
import type { ConfigSnapshot } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { configPath, refOf } from './config-metadata.js';
import { buildDownstreamTls } from './downstream-tls.js';
import { sniHostsFor } from './host-matching.js';
import { httpConnectionManager } from './http-connection-manager.js';
import { buildAutoPassthroughChains, buildPassthroughChains, buildTcpServerFilter } from './gateway-tcp.js';
import type { GatewayServer, ListenerGroup } from './gateway-servers.js';
import type { NamedResource } from './types.js';
import { byName } from './ordering.js';

type Obj = Record<string, unknown>;

const ALPN_HTTP = ['h2', 'http/1.1'];
const TLS_INSPECTOR = { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } };

export interface GatewayListenerResult {
  listeners: NamedResource[];
  /** RDS names the listeners reference. */
  routeNames: Set<string>;
  secrets: NamedResource[];
  notes: string[];
}

function describe(s: GatewayServer): string {
  return `Gateway ${s.gatewayRef} spec.servers[${s.index}]`;
}

function statPrefixFor(group: ListenerGroup): string {
  return `outbound_${group.bind}_${group.port}`;
}

interface ChainResult { chain?: Obj; tls: boolean; secrets: NamedResource[]; note?: string }

function serverNamesMatch(s: GatewayServer): Obj {
  const names = sniHostsFor(s.server);
  return names.length ? { filterChainMatch: { serverNames: names } } : {};
}

function httpsChain(snapshot: ConfigSnapshot, proxy: ProxyInfo, group: ListenerGroup, s: GatewayServer): ChainResult {
  const tls = buildDownstreamTls(snapshot, proxy.namespace, s.server.tls!, ALPN_HTTP);
  if (!tls.ok) return { tls: true, secrets: [], note: `${describe(s)}: ${tls.reason}; server skipped` };
  return {
    tls: true,
    secrets: tls.secrets,
    chain: {
      name: s.routeName,
      ...serverNamesMatch(s),
      transportSocket: tls.transportSocket,
      filters: [httpConnectionManager(s.server.name || statPrefixFor(group), s.routeName, { useRemoteAddress: true, forwardClientCert: true })],
    },
  };
}

function tcpChain(snapshot: ConfigSnapshot, proxy: ProxyInfo, s: GatewayServer): ChainResult {
  const filter = buildTcpServerFilter(snapshot, proxy, s);
  if (!filter) return { tls: false, secrets: [], note: `${describe(s)}: no VirtualService tcp route applies; server skipped` };
  if (s.kind === 'tcp') return { tls: false, secrets: [], chain: { filters: [filter] } };
  const tls = buildDownstreamTls(snapshot, proxy.namespace, s.server.tls!, []);
  if (!tls.ok) return { tls: true, secrets: [], note: `${describe(s)}: ${tls.reason}; server skipped` };
  return { tls: true, secrets: tls.secrets, chain: { ...serverNamesMatch(s), transportSocket: tls.transportSocket, filters: [filter] } };
}

/** `clusterNames`: the outbound clusters the gateway has (AUTO_PASSTHROUGH routes to them by SNI). */
export function buildGatewayListeners(snapshot: ConfigSnapshot, proxy: ProxyInfo, groups: readonly ListenerGroup[], clusterNames: readonly string[] = []): GatewayListenerResult {
  const secrets = new Map<string, NamedResource>();
  const notes: string[] = [];
  const listeners: NamedResource[] = [];
  const routeNames = new Set<string>();
  for (const group of groups) {
    const chains: Array<{ chain: Obj; tls: boolean; from: GatewayServer[] }> = [];
    const knownSni = new Set<string>();
    const http = group.servers.filter((s) => s.kind === 'http');
    if (http.length) {
      chains.push({ tls: false, from: http, chain: { name: http[0].routeName, filters: [httpConnectionManager(statPrefixFor(group), http[0].routeName, { useRemoteAddress: true, forwardClientCert: true })] } });
    }
    for (const s of group.servers) {
      let results: ChainResult[];
      if (s.kind === 'http') continue;
      else if (s.kind === 'https') results = [httpsChain(snapshot, proxy, group, s)];
      else if (s.kind === 'tls-passthrough' && s.server.tls?.mode === 'AUTO_PASSTHROUGH') {
        const auto = buildAutoPassthroughChains(s, clusterNames, knownSni);
        results = auto.length ? auto.map((chain) => ({ chain, tls: true, secrets: [] })) : [{ tls: true, secrets: [], note: `${describe(s)}: no cluster matches the server hosts; server skipped` }];
      } else if (s.kind === 'tls-passthrough') {
        const p = buildPassthroughChains(snapshot, proxy, s, knownSni);
        notes.push(...p.notes);
        results = p.chains.length ? p.chains.map((chain) => ({ chain, tls: true, secrets: [] })) : [{ tls: true, secrets: [], note: `${describe(s)}: no VirtualService tls route applies; server skipped` }];
      } else results = [tcpChain(snapshot, proxy, s)];
      for (const r of results) {
        if (r.note) notes.push(r.note);
        if (!r.chain) continue;
        for (const sec of r.secrets) secrets.set(sec.name, sec);
        chains.push({ chain: r.chain, tls: r.tls, from: [s] });
      }
    }
    if (chains.length === 0) {
      notes.push(`listener ${group.name}: no filter chain could be built; listener not emitted`);
      continue;
    }
    const anyTls = chains.some((c) => c.tls);
    if (anyTls && chains.some((c) => !c.tls)) {
      // Plain and TLS chains on one port: tell them apart by transport protocol too.
      for (const c of chains) c.chain.filterChainMatch = { ...((c.chain.filterChainMatch as Obj | undefined) ?? {}), transportProtocol: c.tls ? 'tls' : 'raw_buffer' };
    }
    // Envoy rejects two chains with the same match: keep the first.
    const seen = new Set<string>();
    const unique: Obj[] = [];
    const origins = new Set<string>();
    for (const c of chains) {
      const key = JSON.stringify(c.chain.filterChainMatch ?? {});
      if (seen.has(key)) { notes.push(`listener ${group.name}: two filter chains match the same connections (${key}); the later one is dropped`); continue; }
      seen.add(key);
      unique.push(c.chain);
      for (const s of c.from) origins.add(configPath(refOf('Gateway', s.gateway)));
      if (typeof c.chain.name === 'string' && c.chain.name) routeNames.add(c.chain.name);
    }
    listeners.push({
      name: group.name,
      value: {
        name: group.name,
        address: { socketAddress: { address: group.bind, portValue: group.port } },
        filterChains: unique,
        ...(anyTls ? { listenerFilters: [TLS_INSPECTOR] } : {}),
        trafficDirection: 'OUTBOUND',
        // The Gateways whose servers made this listener (traced back when a proxy rejects it).
        metadata: { filterMetadata: { istio: { configs: [...origins].sort() } } },
      },
    });
  }
  return { listeners, routeNames, secrets: [...secrets.values()].sort(byName), notes };
}

/** Kept for modules that imported it from here. */
export { httpConnectionManager } from './http-connection-manager.js';
