/**
 * A VirtualService's HTTPRoutes → Envoy routes, in order (first match wins). Shared by the gateway
 * (gateways = the Gateway's "namespace/name") and the sidecar (gateways = "mesh").
 */
import type { HTTPMatchRequest, HTTPRoute, VirtualService } from '../api/index.js';
import { labelsMatch } from '../registry/services.js';
import { configMetadata, refOf } from './config-metadata.js';
import { buildRouteAction, type RouteContext } from './route-action.js';
import { buildRouteMatch, isCatchAllMatch } from './route-match.js';

type Obj = Record<string, unknown>;

/** Istio raises Envoy's 4 KiB direct-response body limit to 1 MiB in every route configuration with VirtualService routes. */
export const MAX_DIRECT_RESPONSE_BODY = 1024 * 1024;

export interface HttpRouteOptions extends RouteContext {
  /** Gateway refs ("namespace/name", or "mesh") the routes are built for: match.gateways filters on them. */
  gateways: ReadonlySet<string>;
}

/** Istio's match.gateways entries name "namespace/name" (short names in the VirtualService namespace) or "mesh". */
function gatewayRefOf(g: string, vsNamespace: string): string {
  return g === 'mesh' || g.includes('/') ? g : `${vsNamespace}/${g}`;
}

/** Does a match block apply here? Port, then gateways if listed, else source labels and namespace. */
export function matchApplies(m: HTTPMatchRequest | undefined, opts: HttpRouteOptions): boolean {
  if (!m) return true;
  if (m.port !== undefined && m.port !== opts.listenerPort) return false;
  if (m.gateways?.length) return m.gateways.some((g) => opts.gateways.has(gatewayRefOf(g, opts.vs.metadata.namespace)));
  if (!labelsMatch(m.sourceLabels, opts.proxy.labels)) return false;
  return !m.sourceNamespace || m.sourceNamespace === opts.proxy.namespace;
}

export function vsConfigMetadata(vs: VirtualService): Obj {
  return configMetadata(refOf('VirtualService', vs));
}

function translateRoute(r: HTTPRoute, m: HTTPMatchRequest | undefined, opts: HttpRouteOptions): Obj {
  const name = m?.name ? `${r.name ?? ''}.${m.name}` : r.name;
  const route: Obj = {};
  if (name) route.name = name;
  route.match = buildRouteMatch(m);
  if (m?.statPrefix) route.statPrefix = m.statPrefix;
  Object.assign(route, buildRouteAction(r, opts));
  route.metadata = vsConfigMetadata(opts.vs);
  return route;
}

export function isCatchAllRoute(route: Obj): boolean {
  return isCatchAllMatch(route.match as Obj);
}

/** Envoy routes for a VirtualService's HTTP section; nothing after a catch-all (it would never match). */
export function buildHttpRoutes(http: readonly HTTPRoute[], opts: HttpRouteOptions): Obj[] {
  const out: Obj[] = [];
  for (const r of http) {
    // TODO(delegation): delegate VirtualServices are resolved by a later issue; a bare delegate routes nowhere.
    if (r.delegate) continue;
    let catchAll = false;
    if (!r.match?.length) {
      out.push(translateRoute(r, undefined, opts));
      catchAll = true;
    } else {
      for (const m of r.match) {
        if (!matchApplies(m, opts)) continue;
        const route = translateRoute(r, m, opts);
        out.push(route);
        if (isCatchAllRoute(route)) { catchAll = true; break; }
      }
    }
    if (catchAll) break;
  }
  return out;
}

/** Catch-all routes move to the end of a virtual host (routes merged from several VirtualServices), order kept otherwise. */
export function catchAllLast(routes: readonly Obj[]): Obj[] {
  return [...routes.filter((r) => !isCatchAllRoute(r)), ...routes.filter(isCatchAllRoute)];
}
