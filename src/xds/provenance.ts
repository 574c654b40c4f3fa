/**
 * Provenance of rejected configuration: from a resource a proxy NACKed back to the Istio objects it
 * was made from, read from the config paths the translator writes into resource metadata
 * (src/translator/config-metadata.ts), and, across connected proxies, the rejections each object
 * is to blame for. Pure: values in, values out.
 */
import { parseConfigPath, type ConfigRef } from '../translator/config-metadata.js';
import { compareStrings } from '../translator/ordering.js';
import type { NamedResource, ResourceKind, XdsResources } from '../translator/types.js';
import type { ProxySyncStatus } from './connection.js';

type Obj = Record<string, unknown>;

export type ObjectRef = ConfigRef;

export function objectKey(ref: ObjectRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** The config paths in a resource's `filter_metadata.istio` (`config`, or the `configs` list of gateway listeners). */
function pathsIn(metadata: unknown): string[] {
  const istio = (metadata as { filterMetadata?: { istio?: { config?: unknown; configs?: unknown } } } | undefined)?.filterMetadata?.istio;
  if (!istio) return [];
  const out: string[] = [];
  if (typeof istio.config === 'string') out.push(istio.config);
  if (Array.isArray(istio.configs)) for (const c of istio.configs) if (typeof c === 'string') out.push(c);
  return out;
}

/** Strings in a route's match worth looking for in an error message (short ones would match by accident). */
function quotedBy(route: Obj, message: string): boolean {
  const found = (v: unknown): boolean => {
    if (typeof v === 'string') return v.length >= 4 && message.includes(v);
    if (Array.isArray(v)) return v.some(found);
    if (v && typeof v === 'object') return Object.values(v).some(found);
    return false;
  };
  return (typeof route.name === 'string' && route.name.length >= 4 && message.includes(route.name)) || found(route.match);
}

function routesOf(routeConfig: Obj): Obj[] {
  return ((routeConfig.virtualHosts as Obj[] | undefined) ?? []).flatMap((vh) => (vh.routes as Obj[] | undefined) ?? []);
}

/**
 * The routes of a RouteConfiguration to blame: those whose name or match strings Envoy's error
 * quotes (e.g. the regex RE2 refused), else all of them (the message does not say).
 */
function blamedRoutes(routeConfig: Obj, message: string): Obj[] {
  const routes = routesOf(routeConfig);
  const quoted = message ? routes.filter((r) => quotedBy(r, message)) : [];
  return quoted.length ? quoted : routes;
}

/** Whether Envoy's message quotes one of the routes of this RouteConfiguration (so it is certainly the one rejected). */
function quotesRouteOf(name: string, resources: XdsResources, message: string): boolean {
  const rc = find(resources.routes, name);
  return !!rc && !!message && routesOf(rc).some((r) => quotedBy(r, message));
}

function find(list: readonly NamedResource[], name: string): Obj | undefined {
  return list.find((r) => r.name === name)?.value;
}

/**
 * The Istio objects a resource the proxy rejected came from, sorted and without duplicates:
 * a RouteConfiguration → the VirtualServices of its routes (narrowed by Envoy's message when it
 * quotes a route), a Cluster → its DestinationRule, a ClusterLoadAssignment → its cluster's
 * DestinationRule, a gateway Listener → its Gateways. Empty when nothing is known (a Secret,
 * a listener made from services alone).
 */
export function originsOf(kind: ResourceKind, name: string, resources: XdsResources, message = ''): ObjectRef[] {
  let paths: string[] = [];
  if (kind === 'routes') {
    const rc = find(resources.routes, name);
    if (rc) paths = blamedRoutes(rc, message).flatMap((r) => pathsIn(r.metadata));
  } else if (kind === 'clusters' || kind === 'endpoints') {
    paths = pathsIn(find(resources.clusters, name)?.metadata);
  } else if (kind === 'listeners') {
    paths = pathsIn(find(resources.listeners, name)?.metadata);
  }
  const refs = new Map<string, ObjectRef>();
  for (const p of paths) {
    const ref = parseConfigPath(p);
    if (ref) refs.set(objectKey(ref), ref);
  }
  return [...refs.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, r]) => r);
}

export interface Rejection {
  proxy: string;
  kind: ResourceKind;
  /** The rejected resource. */
  name: string;
  message: string;
}

/** The order rejections are listed in (and so the status message): by proxy, resource kind, resource name. */
export function compareRejections(a: Pick<Rejection, 'proxy' | 'name'> & { kind: string }, b: Pick<Rejection, 'proxy' | 'name'> & { kind: string }): number {
  return compareStrings(a.proxy, b.proxy) || compareStrings(a.kind, b.kind) || compareStrings(a.name, b.name);
}

export interface ObjectRejections {
  ref: ObjectRef;
  rejections: Rejection[];
}

/**
 * Per Istio object, what connected proxies currently reject of the configuration made from it
 * (resources whose latest version sent was NACKed). Keyed by objectKey; rejections sorted by proxy.
 */
export function rejectionsByObject(proxies: readonly ProxySyncStatus[], resourcesFor: (proxyId: string) => XdsResources | undefined): Map<string, ObjectRejections> {
  const out = new Map<string, ObjectRejections>();
  for (const p of proxies) {
    const resources = resourcesFor(p.id);
    if (!resources) continue;
    for (const [kind, t] of Object.entries(p.types) as Array<[ResourceKind, ProxySyncStatus['types'][ResourceKind]]>) {
      let nacked = t?.nackedResources ?? [];
      // Which of several rejected route configurations Envoy meant can be a guess (names found in the
      // message, or all that changed): when the message quotes routes of some, only those count.
      if (kind === 'routes' && nacked.length > 1) {
        const quoting = nacked.filter((n) => quotesRouteOf(n.name, resources, n.message));
        if (quoting.length) nacked = quoting;
      }
      for (const n of nacked) {
        for (const ref of originsOf(kind, n.name, resources, n.message)) {
          const key = objectKey(ref);
          let entry = out.get(key);
          if (!entry) out.set(key, (entry = { ref, rejections: [] }));
          entry.rejections.push({ proxy: p.id, kind, name: n.name, message: n.message });
        }
      }
    }
  }
  for (const e of out.values()) e.rejections.sort(compareRejections);
  return out;
}
