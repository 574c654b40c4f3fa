/**
 * The translator: pure (snapshot, proxy) → Envoy resources. No I/O, no clocks; output sorted by
 * name so that equal inputs give equal output.
 */
import type { ConfigSnapshot } from '../registry/model.js';
import { isProxylessGrpc, type ProxyInfo } from '../proxy/node.js';
import { isVisibleTo } from '../registry/services.js';
import { blackHoleCluster, buildServiceClusters } from './clusters.js';
import { buildGatewayListeners } from './gateway-listeners.js';
import { buildGatewayRoutes } from './gateway-routes.js';
import { translateProxylessGrpc } from './grpc-proxyless.js';
import { mergeGatewayServers } from './gateway-servers.js';
import { computeScope, type SidecarScope } from './scope.js';
import { buildSidecarInbound, specialClusters } from './sidecar-inbound.js';
import { buildSidecarOutbound } from './sidecar-outbound.js';
import type { NamedResource, XdsResources } from './types.js';
import { byName, sortedEntries } from './ordering.js';

export interface TranslationResult extends XdsResources {
  /** Things the operator should know (skipped servers, merged hosts...). Not sent to Envoy. */
  notes?: string[];
}

/**
 * A gateway (router) proxy: listeners from the servers of the Gateways selecting it, route
 * configurations from the VirtualServices bound to them, and — as Istio does — clusters for every
 * service visible from the gateway's namespace (not only the referenced ones), plus BlackHoleCluster.
 */
export function translateGateway(snapshot: ConfigSnapshot, proxy: ProxyInfo): TranslationResult {
  const merged = mergeGatewayServers(snapshot, proxy);
  const visible = snapshot.services.filter((s) => isVisibleTo(s.exportTo, proxy.namespace) && snapshot.serviceByHost(s.hostname) === s);
  const c = buildServiceClusters(snapshot, proxy, visible);
  const l = buildGatewayListeners(snapshot, proxy, merged.groups, [...c.clusters].sort(byName).map((x) => x.name));
  const r = buildGatewayRoutes(snapshot, proxy, merged.groups, l.routeNames);
  return {
    listeners: l.listeners.sort(byName),
    routes: r.routes.sort(byName),
    clusters: [...c.clusters, blackHoleCluster()].sort(byName),
    endpoints: c.endpoints.sort(byName),
    // Listener certificates and DestinationRule credentials may name the same Secret: one copy each.
    secrets: [...new Map([...l.secrets, ...c.secrets].map((s) => [s.name, s])).values()].sort(byName),
    notes: [...merged.notes, ...l.notes, ...r.notes],
  };
}

/** What a sidecar's outbound side is built from and made of: the same for every sidecar of one {@link outboundKey}. */
interface SidecarOutbound {
  scope: SidecarScope;
  out: ReturnType<typeof buildSidecarOutbound>;
  outbound: ReturnType<typeof buildServiceClusters>;
}

/**
 * Outbound configuration already built from one snapshot, shared by the sidecars that need the
 * same (the caller's, one per snapshot version). Shared resources are never mutated after they are
 * made, so proxies may hold the same objects (and the server hashes and encodes them once).
 */
export interface OutboundMemo {
  version: number;
  byKey: Map<string, SidecarOutbound>;
}

/**
 * Everything of a sidecar the outbound side depends on: its namespace (visibility, DestinationRule
 * lookup, sourceNamespace), its workload labels (Sidecar and DestinationRule selection,
 * sourceLabels, locality) and DNS domain. Not its addresses or name: those only shape its inbound side.
 */
export function outboundKey(proxy: ProxyInfo): string {
  return JSON.stringify([proxy.type, proxy.namespace, proxy.dnsDomain, sortedEntries(proxy.labels)]);
}

function sidecarOutbound(snapshot: ConfigSnapshot, proxy: ProxyInfo, memo?: OutboundMemo): SidecarOutbound {
  if (memo && memo.version !== snapshot.version) throw new Error(`outbound memo of version ${memo.version} used with snapshot ${snapshot.version}`);
  const key = memo && outboundKey(proxy);
  const known = key !== undefined ? memo?.byKey.get(key) : undefined;
  if (known) return known;
  const scope = computeScope(snapshot, proxy);
  const built = { scope, out: buildSidecarOutbound(snapshot, proxy, scope), outbound: buildServiceClusters(snapshot, proxy, scope.services) };
  if (key !== undefined) memo?.byKey.set(key, built);
  return built;
}

export function translateSidecar(snapshot: ConfigSnapshot, proxy: ProxyInfo, memo?: OutboundMemo): TranslationResult {
  const { scope, out, outbound } = sidecarOutbound(snapshot, proxy, memo);
  const inbound = buildSidecarInbound(snapshot, proxy, scope);
  const clusters: NamedResource[] = [...specialClusters(), ...inbound.clusters, ...outbound.clusters];
  return {
    listeners: [...out.listeners, ...inbound.listeners].sort(byName),
    // Copies: the outbound lists may be shared with other sidecars.
    routes: [...out.routes].sort(byName),
    clusters: clusters.sort(byName),
    endpoints: [...outbound.endpoints].sort(byName),
    secrets: inbound.secrets.sort(byName),
    ...(inbound.notes.length ? { notes: inbound.notes } : {}),
  };
}

/** A proxy that sent no labels gets those of its pod in the registry (found by name, else by IP). */
export function withWorkloadLabels(snapshot: ConfigSnapshot, proxy: ProxyInfo): ProxyInfo {
  if (Object.keys(proxy.labels).length > 0) return proxy;
  const labels = snapshot.workloadLabels(proxy.namespace, proxy.podName, proxy.ips[0]);
  return labels ? { ...proxy, labels } : proxy;
}

/** A proxy's resources. With a memo (for this snapshot's version), sidecars that need the same outbound configuration share it. */
export function translate(snapshot: ConfigSnapshot, proxy: ProxyInfo, memo?: OutboundMemo): TranslationResult {
  const p = withWorkloadLabels(snapshot, proxy);
  if (p.type === 'router') return translateGateway(snapshot, p);
  if (isProxylessGrpc(p)) return translateProxylessGrpc(snapshot, p);
  return translateSidecar(snapshot, p, memo);
}

export { checkConsistency } from './consistency.js';
