/**
 * Which listener and filter chain a request reaches, as Envoy decides it: a gateway by the port
 * (and address) it listens on, a sidecar through virtualOutbound (original destination: the
 * listener for VIP:PORT, else 0.0.0.0:PORT, else virtualOutbound's own catch-all chain).
 */
import type { NamedResource } from '../translator/types.js';
import type { ExplainRequest } from './request.js';

type Obj = Record<string, unknown>;

export const HCM = 'envoy.filters.network.http_connection_manager';
export const TCP_PROXY = 'envoy.filters.network.tcp_proxy';

export interface ListenerChoice {
  listener: NamedResource;
  chain: Obj;
  /** Index of the chain in filterChains. */
  chainIndex: number;
  reason: string;
}

export type ListenerResult = { ok: true; value: ListenerChoice } | { ok: false; reason: string };

function socketOf(l: NamedResource): { address: string; port: number } {
  const sa = ((l.value.address as Obj | undefined)?.socketAddress ?? {}) as { address?: string; portValue?: number };
  return { address: sa.address ?? '', port: Number(sa.portValue ?? 0) };
}

const isIp = (h: string) => /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(':');

function serverNameMatches(names: readonly string[], sni: string): boolean {
  return names.some((n) => n === sni || (n.startsWith('*.') && sni.endsWith(n.slice(1)) && sni.length > n.length - 1));
}

/** Envoy's filter chain match, reduced to what meshpilot emits: transport protocol and SNI. */
function selectChain(listener: NamedResource, req: ExplainRequest): { chain: Obj; index: number; reason: string } | undefined {
  const chains = (listener.value.filterChains as Obj[] | undefined) ?? [];
  const tls = req.scheme === 'https';
  const sni = isIp(req.hostname) ? '' : req.hostname;
  let fallback: { chain: Obj; index: number; reason: string } | undefined;
  for (const [index, chain] of chains.entries()) {
    const m = (chain.filterChainMatch ?? {}) as { transportProtocol?: string; serverNames?: string[] };
    if (m.transportProtocol && m.transportProtocol !== (tls ? 'tls' : 'raw_buffer')) continue;
    if (m.serverNames?.length) {
      if (tls && sni && serverNameMatches(m.serverNames, sni)) return { chain, index, reason: `SNI "${sni}" matches server names ${m.serverNames.join(', ')}` };
      continue;
    }
    // A TLS-terminating chain only takes TLS; a plain one only plain text.
    if (!!chain.transportSocket !== tls) continue;
    fallback ??= { chain, index, reason: m.transportProtocol ? `transport protocol ${m.transportProtocol}` : 'the chain without match conditions' };
  }
  return fallback;
}

/** Gateway: the listener bound to the request's port (the exact address first, then 0.0.0.0). */
export function selectGatewayListener(listeners: readonly NamedResource[], req: ExplainRequest, address?: string): ListenerResult {
  const onPort = listeners.filter((l) => socketOf(l).port === req.port);
  if (!onPort.length) return { ok: false, reason: `no listener on port ${req.port}: the connection is refused` };
  const exact = address ? onPort.find((l) => socketOf(l).address === address) : undefined;
  const l = exact ?? onPort.find((x) => ['0.0.0.0', '::'].includes(socketOf(x).address)) ?? onPort[0];
  const chain = selectChain(l, req);
  if (!chain) return { ok: false, reason: `listener ${l.name}: no filter chain accepts a ${req.scheme} connection${req.scheme === 'https' ? ` with SNI "${req.hostname}"` : ''}: the connection is closed` };
  return { ok: true, value: { listener: l, chain: chain.chain, chainIndex: chain.index, reason: `listener ${l.name} listens on ${socketOf(l).address}:${req.port}; filter chain ${chain.index} (${chain.reason})` } };
}

/** Sidecar: iptables sends outbound TCP to virtualOutbound, which hands it on by original destination. */
export function selectSidecarListener(listeners: readonly NamedResource[], req: ExplainRequest, address?: string): ListenerResult {
  const dest = address ?? (isIp(req.hostname) ? req.hostname : undefined);
  const byName = new Map(listeners.map((l) => [l.name, l]));
  const candidates: Array<[string, string]> = [];
  if (dest) candidates.push([`${dest}_${req.port}`, `destination ${dest}:${req.port} has its own listener`]);
  candidates.push([`0.0.0.0_${req.port}`, dest
    ? `no listener for ${dest}:${req.port}; the wildcard listener for port ${req.port} takes it`
    : `the wildcard listener for port ${req.port} (assuming "${req.hostname}" resolves to a service address without its own ADDRESS_PORT listener; pass --address to pin it)`]);
  for (const [name, why] of candidates) {
    const l = byName.get(name);
    if (!l) continue;
    const chain = selectChain(l, req);
    if (chain) return { ok: true, value: { listener: l, chain: chain.chain, chainIndex: chain.index, reason: `virtualOutbound hands the connection to ${name}: ${why}` } };
  }
  const vo = byName.get('virtualOutbound');
  if (!vo) return { ok: false, reason: `no listener for port ${req.port} and no virtualOutbound` };
  const chain = ((vo.value.filterChains as Obj[] | undefined) ?? [])[0];
  if (!chain) return { ok: false, reason: 'virtualOutbound has no filter chain' };
  return { ok: true, value: { listener: vo, chain, chainIndex: 0, reason: `no listener for ${dest ?? req.hostname}:${req.port}: virtualOutbound's catch-all chain takes the connection` } };
}

/** The network filter that handles the connection: HTTP connection manager (RDS name) or tcp_proxy. */
export function terminalFilter(chain: Obj): { kind: 'http'; routeConfig: string } | { kind: 'tcp'; config: Obj } | undefined {
  for (const f of (chain.filters as Obj[] | undefined) ?? []) {
    const cfg = (f.typedConfig ?? {}) as Obj;
    if (f.name === HCM) {
      const rds = cfg.rds as { routeConfigName?: string } | undefined;
      if (rds?.routeConfigName) return { kind: 'http', routeConfig: rds.routeConfigName };
    }
    if (f.name === TCP_PROXY) return { kind: 'tcp', config: cfg };
  }
  return undefined;
}
