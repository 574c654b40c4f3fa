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
import { computeScope } from './scope.js';
import { buildSidecarInbound, specialClusters } from './sidecar-inbound.js';
import { buildSidecarOutbound } from './sidecar-outbound.js';
import type { NamedResource, XdsResources } from './types.js';
import { byName } from './ordering.js';

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

export function translateSidecar(snapshot: ConfigSnapshot, proxy: ProxyInfo): TranslationResult {
  const scope = computeScope(snapshot, proxy);
  const out = buildSidecarOutbound(snapshot, proxy, scope);
  const inbound = buildSidecarInbound(snapshot, proxy, scope);
  const outbound = buildServiceClusters(snapshot, proxy, scope.services);
  const clusters: NamedResource[] = [...specialClusters(), ...inbound.clusters, ...outbound.clusters];
  return {
    listeners: [...out.listeners, ...inbound.listeners].sort(byName),
    routes: out.routes.sort(byName),
    clusters: clusters.sort(byName),
    endpoints: outbound.endpoints.sort(byName),
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

export function translate(snapshot: ConfigSnapshot, proxy: ProxyInfo): TranslationResult {
  const p = withWorkloadLabels(snapshot, proxy);
  if (p.type === 'router') return translateGateway(snapshot, p);
  if (isProxylessGrpc(p)) return translateProxylessGrpc(snapshot, p);
  return translateSidecar(snapshot, p);
}

export { checkConsistency } from './consistency.js';
