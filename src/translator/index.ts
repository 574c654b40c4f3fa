/**
 * The translator: pure (snapshot, proxy) → Envoy resources. No I/O, no clocks; output sorted by
 * name so that equal inputs give equal output.
 */
import type { ConfigSnapshot } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { buildOutboundCluster } from './clusters.js';
import { buildLoadAssignment } from './endpoints.js';
import { buildGatewayListeners } from './gateway-listeners.js';
import { buildGatewayRoutes } from './gateway-routes.js';
import { listenerGroups } from './gateway-servers.js';
import { computeScope } from './scope.js';
import { buildSidecarInbound, specialClusters } from './sidecar-inbound.js';
import { buildSidecarOutbound } from './sidecar-outbound.js';
import type { NamedResource, XdsResources } from './types.js';

export interface TranslationResult extends XdsResources {
  /** Things the operator should know (skipped servers, merged hosts...). Not sent to Envoy. */
  notes?: string[];
}

const byName = (a: NamedResource, b: NamedResource) => a.name.localeCompare(b.name);

export function translateGateway(snapshot: ConfigSnapshot, proxy: ProxyInfo): TranslationResult {
  const groups = listenerGroups(snapshot, proxy);
  const l = buildGatewayListeners(snapshot, proxy, groups);
  const r = buildGatewayRoutes(snapshot, proxy, groups);
  const clusters: NamedResource[] = [];
  const endpoints: NamedResource[] = [];
  for (const d of r.destinations) {
    const c = buildOutboundCluster(snapshot, proxy, d);
    clusters.push(c);
    if (c.value.type === 'EDS') endpoints.push(buildLoadAssignment(snapshot, proxy, d));
  }
  return {
    listeners: l.listeners.sort(byName),
    routes: r.routes.sort(byName),
    clusters: clusters.sort(byName),
    endpoints: endpoints.sort(byName),
    secrets: l.secrets.sort(byName),
    notes: [...l.notes, ...r.notes],
  };
}

export function translateSidecar(snapshot: ConfigSnapshot, proxy: ProxyInfo): TranslationResult {
  const scope = computeScope(snapshot, proxy);
  const out = buildSidecarOutbound(snapshot, proxy, scope);
  const inbound = buildSidecarInbound(snapshot, proxy, scope);
  const clusters: NamedResource[] = [...specialClusters(), ...inbound.clusters];
  const endpoints: NamedResource[] = [];
  for (const d of out.destinations) {
    const c = buildOutboundCluster(snapshot, proxy, d);
    clusters.push(c);
    if (c.value.type === 'EDS') endpoints.push(buildLoadAssignment(snapshot, proxy, d));
  }
  return {
    listeners: [...out.listeners, ...inbound.listeners].sort(byName),
    routes: out.routes.sort(byName),
    clusters: clusters.sort(byName),
    endpoints: endpoints.sort(byName),
    secrets: [],
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
  return translateSidecar(snapshot, p);
}

export { checkConsistency } from './consistency.js';
