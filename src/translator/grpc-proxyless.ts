/**
 * Proxyless gRPC clients (node metadata GENERATOR "grpc"), as Istio's grpcgen serves them. The
 * client resolves `xds:///HOST:PORT` by asking for the Listener named `HOST:PORT` — the FQDN or,
 * for a service in its own namespace, the short names Istio also answers (`name`, `name.ns`,
 * `name.ns.svc`) — and follows it:
 *   Listener HOST:PORT (api_listener: HttpConnectionManager, filters fault + router)
 *     → RDS outbound|PORT||FQDN (one virtual host: the service's, routes from its VirtualService)
 *     → CDS outbound|PORT|SUBSET|FQDN (EDS) → EDS of the same name.
 * Everything is generated here; the xDS server hands the client only the names it subscribed to.
 * Route features gRPC lacks are adapted so that the client never NACKs (see grpcRoute).
 */
import type { ConfigSnapshot, MeshService } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { outboundClusterName } from './destinations.js';
import { durationFromMillis } from './durations.js';
import { buildGrpcClusters } from './grpc-clusters.js';
import { adsConfigSource, FAULT_FILTER, ROUTER_FILTER } from './http-connection-manager.js';
import { buildHttpRoutes } from './http-routes.js';
import { consistentHashFor, defaultRetryPolicy, hashPolicy } from './route-policies.js';
import { computeScope } from './scope.js';
import { owningVirtualService, serviceDomains } from './sidecar-outbound.js';
import type { NamedResource } from './types.js';
import { byName } from './ordering.js';
import type { TranslationResult } from './index.js';

type Obj = Record<string, unknown>;

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** The names a gRPC client may use for a service, as Istio's grpcgen resolves them (FQDN first). */
export function grpcHostAliases(svc: MeshService, proxy: ProxyInfo): string[] {
  const names = [svc.hostname];
  const suffix = `.${proxy.dnsDomain}`;
  if (!proxy.dnsDomain || !svc.hostname.endsWith(suffix)) return names;
  const short = svc.hostname.slice(0, -suffix.length);
  if (!short || short.includes('.')) return names;
  names.push(short);
  // "name.ns" and "name.ns.svc" when the client's DNS domain starts with them (its own namespace).
  for (const s of [proxy.namespace, `${proxy.namespace}.svc`]) if (proxy.dnsDomain.startsWith(`${s}.`)) names.push(`${short}.${s}`);
  return names;
}

/** The HttpConnectionManager a gRPC API listener carries: RDS over ADS, fault then router (router last). */
export function grpcHttpConnectionManager(routeName: string): Obj {
  return {
    '@type': HCM_TYPE,
    httpFilters: [
      { name: FAULT_FILTER, typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } },
      { name: ROUTER_FILTER, typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
    ],
    rds: { configSource: adsConfigSource(), routeConfigName: routeName },
  };
}

function apiListener(name: string, svc: MeshService, port: number, routeName: string): NamedResource {
  const vip = svc.addresses.find((a) => !a.includes('/')) ?? '0.0.0.0';
  return { name, value: {
    name,
    address: { socketAddress: { address: vip, portValue: port } },
    apiListener: { apiListener: grpcHttpConnectionManager(routeName) },
  } };
}

/**
 * An Envoy route adapted for gRPC's xDS client, or undefined when gRPC cannot use it:
 * - redirect / direct response: gRPC only forwards (grpc-js NACKs other actions) → left out;
 * - query parameter matches: a gRPC request has no query string, the route can never match (and
 *   grpc-js would ignore the condition and match everything) → left out;
 * - per-route filter configs other than fault (CORS): gRPC NACKs unknown filters → dropped;
 * - the route timeout → max_stream_duration, the field gRPC reads (as Istio sets it for gRPC).
 */
export function grpcRoute(route: Obj, where: string, notes: string[]): Obj | undefined {
  const label = `${where} route ${String(route.name ?? '(unnamed)')}`;
  if (route.redirect || route.directResponse) {
    notes.push(`${label}: gRPC clients cannot follow a ${route.redirect ? 'redirect' : 'direct response'}; route left out`);
    return undefined;
  }
  const match = route.match as Obj | undefined;
  if (match?.queryParameters) {
    notes.push(`${label}: gRPC requests carry no query parameters; route left out`);
    return undefined;
  }
  const out: Obj = { ...route };
  const perFilter = route.typedPerFilterConfig as Obj | undefined;
  if (perFilter) {
    const kept = Object.fromEntries(Object.entries(perFilter).filter(([k]) => k === FAULT_FILTER));
    if (Object.keys(kept).length < Object.keys(perFilter).length) notes.push(`${label}: only fault injection applies to gRPC clients (CORS dropped)`);
    if (Object.keys(kept).length) out.typedPerFilterConfig = kept;
    else delete out.typedPerFilterConfig;
  }
  const action = route.route as Obj | undefined;
  if (action) {
    const { maxGrpcTimeout: _unused, ...rest } = action;
    out.route = { ...rest, maxStreamDuration: { maxStreamDuration: action.timeout ?? durationFromMillis(0) } };
  }
  return out;
}

/** The route of a service without VirtualService: its default cluster, hashed as its DestinationRule says (as Istio does). */
function defaultRoute(snapshot: ConfigSnapshot, proxy: ProxyInfo, svc: MeshService, port: number, cluster: string): Obj {
  const dr = snapshot.destinationRuleFor(svc.hostname, proxy.namespace, svc.namespace, proxy.labels);
  const ch = consistentHashFor(dr, '', port);
  const hp = ch ? hashPolicy(ch) : undefined;
  return { name: 'default', match: { prefix: '/' }, route: {
    cluster, timeout: durationFromMillis(0), maxStreamDuration: { maxStreamDuration: durationFromMillis(0) },
    retryPolicy: defaultRetryPolicy(!!hp), ...(hp ? { hashPolicy: [hp] } : {}),
  } };
}

/** Listeners, route configurations, clusters and endpoints for a proxyless gRPC client. */
export function translateProxylessGrpc(snapshot: ConfigSnapshot, proxy: ProxyInfo): TranslationResult {
  const scope = computeScope(snapshot, proxy);
  const notes: string[] = [];
  const listeners: NamedResource[] = [];
  const routes: NamedResource[] = [];
  const suffix = snapshot.mesh.domainSuffix;
  for (const svc of scope.services) {
    const vs = owningVirtualService(scope.virtualServices, svc.hostname, suffix);
    const aliases = grpcHostAliases(svc, proxy);
    for (const port of svc.ports) {
      if (port.protocol === 'UDP') continue;
      const routeName = outboundClusterName(port.port, '', svc.hostname);
      for (const alias of aliases) listeners.push(apiListener(`${alias}:${port.port}`, svc, port.port, routeName));
      const built = vs?.spec.http?.length
        ? buildHttpRoutes(vs.spec.http, { snapshot, proxy, vs, listenerPort: port.port, isTls: false, gateways: new Set(['mesh']) })
        : [defaultRoute(snapshot, proxy, svc, port.port, routeName)];
      const where = vs ? `VirtualService ${vs.metadata.namespace}/${vs.metadata.name} (${routeName})` : routeName;
      const grpcRoutes = built.flatMap((r) => grpcRoute(r, where, notes) ?? []);
      routes.push({ name: routeName, value: {
        name: routeName,
        virtualHosts: [{ name: `${svc.hostname}:${port.port}`, domains: serviceDomains(svc, port.port, proxy.namespace, suffix), routes: grpcRoutes }],
      } });
    }
  }
  const c = buildGrpcClusters(snapshot, proxy, scope.services);
  return {
    listeners: listeners.sort(byName),
    routes: routes.sort(byName),
    clusters: c.clusters.sort(byName),
    endpoints: c.endpoints.sort(byName),
    secrets: [],
    notes: [...notes, ...c.notes],
  };
}
