/** Per-route policies as Istio translates them: retries, header operations, fault injection, CORS, mirror percentages, hash policies. */
import type { ConsistentHashLB, CorsPolicy, DestinationRule, Headers, HeaderOperations, HTTPFaultInjection, HTTPRetry, Percent } from '../api/index.js';
import { protoDuration } from './durations.js';
import { envoyStringMatch } from './route-match.js';
import { compareStrings } from './ordering.js';
import { sameContent } from './interning.js';

type Obj = Record<string, unknown>;

export const PREVIOUS_HOSTS = { name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } };

/** Istio's retry policy when a route sets none: 2 retries on connect failures, refused streams, unavailable, cancelled and 503. */
export function defaultRetryPolicy(consistentHash = false): Obj {
  return {
    retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    numRetries: { value: 2 },
    // With consistent hashing a retry must stay on the same host.
    ...(consistentHash ? {} : { retryHostPredicate: [PREVIOUS_HOSTS] }),
    hostSelectionRetryMaxAttempts: 5,
    retriableStatusCodes: [503],
  };
}

/**
 * A virtual host whose forwarding routes all carry the same retry policy, with that policy set once
 * on the virtual host instead. Envoy applies a virtual host's retry policy to each route without
 * one of its own (a route's own replaces it whole; redirects and direct responses never retry), so
 * what every request does is unchanged — and a route configuration of VirtualService routes, each
 * with Istio's default policy, is about 30% smaller (fewer bytes to every proxy on each change).
 * When any forwarding route differs, has none (retries off), or none forwards, the virtual host is
 * returned as it is.
 */
export function hoistRetryPolicy(vhost: Obj): Obj {
  const routes = (vhost.routes as Obj[] | undefined) ?? [];
  let shared: unknown;
  for (const r of routes) {
    const action = r.route as Obj | undefined;
    if (!action) continue;
    if (action.retryPolicy === undefined) return vhost;
    if (shared === undefined) shared = action.retryPolicy;
    else if (!sameContent(action.retryPolicy, shared)) return vhost;
  }
  if (shared === undefined || vhost.retryPolicy !== undefined) return vhost;
  return {
    ...vhost,
    retryPolicy: shared,
    routes: routes.map((r) => {
      if (!r.route) return r;
      const { retryPolicy: _, ...action } = r.route as Obj;
      return { ...r, route: action };
    }),
  };
}

/** VirtualService retries → Envoy RetryPolicy (undefined = retries disabled by attempts: 0). */
export function buildRetryPolicy(r: HTTPRetry | undefined, consistentHash = false): Obj | undefined {
  const policy = defaultRetryPolicy(consistentHash);
  if (!r) return policy;
  if ((r.attempts ?? 0) <= 0) return undefined;
  policy.numRetries = { value: r.attempts };
  if (r.retryOn) {
    const parts = r.retryOn.split(',').map((s) => s.trim()).filter(Boolean);
    const codes = parts.filter((p) => /^[1-5]\d\d$/.test(p)).map(Number);
    const named = parts.filter((p) => !/^[1-5]\d\d$/.test(p));
    let retryOn = named.join(',');
    if (codes.length && !retryOn.includes('retriable-status-codes')) retryOn = retryOn ? `${retryOn},retriable-status-codes` : 'retriable-status-codes';
    policy.retryOn = retryOn;
    if (codes.length) policy.retriableStatusCodes = codes;
    else delete policy.retriableStatusCodes;
  }
  if (r.perTryTimeout) policy.perTryTimeout = protoDuration(r.perTryTimeout);
  if (r.retryIgnorePreviousHosts !== undefined) {
    if (r.retryIgnorePreviousHosts) policy.retryHostPredicate = [PREVIOUS_HOSTS];
    else delete policy.retryHostPredicate;
  }
  if (r.retryRemoteLocalities) {
    policy.retryPriority = {
      name: 'envoy.retry_priorities.previous_priorities',
      typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig', updateFrequency: 2 },
    };
  }
  if (r.backoff) policy.retryBackOff = { baseInterval: protoDuration(r.backoff) };
  return policy;
}

/** Header operations (sorted by name, "set" before "add"); ":authority"/"host" become a host rewrite, pseudo-headers are dropped. */
export interface HeaderOps {
  requestHeadersToAdd: Obj[];
  requestHeadersToRemove: string[];
  responseHeadersToAdd: Obj[];
  responseHeadersToRemove: string[];
  authority?: string;
}

const isInternal = (k: string) => k.startsWith(':') || k.toLowerCase() === 'host';
const isAuthority = (k: string) => k.toLowerCase() === ':authority' || k.toLowerCase() === 'host';

function headerValues(h: Record<string, string> | undefined, append: boolean): { list: Obj[]; authority?: string } {
  let authority: string | undefined;
  const list: Obj[] = [];
  for (const [key, value] of Object.entries(h ?? {}).sort(([a], [b]) => compareStrings(a, b))) {
    if (isAuthority(key)) authority = value;
    if (isInternal(key)) continue;
    list.push({ header: { key, value }, appendAction: append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD' });
  }
  return { list, authority };
}

function operations(h: HeaderOperations | undefined): { add: Obj[]; remove: string[]; authority?: string } {
  const set = headerValues(h?.set, false);
  const add = headerValues(h?.add, true);
  return { add: [...set.list, ...add.list], remove: (h?.remove ?? []).filter((k) => !isInternal(k)), authority: set.authority ?? add.authority };
}

export function translateHeaders(h: Headers | undefined): HeaderOps {
  const req = operations(h?.request);
  const resp = operations(h?.response);
  return { requestHeadersToAdd: req.add, requestHeadersToRemove: req.remove, responseHeadersToAdd: resp.add, responseHeadersToRemove: resp.remove, authority: req.authority };
}

/** Non-empty header operation fields of an Envoy Route / ClusterWeight. */
export function headerFields(ops: HeaderOps): Obj {
  const out: Obj = {};
  if (ops.requestHeadersToAdd.length) out.requestHeadersToAdd = ops.requestHeadersToAdd;
  if (ops.requestHeadersToRemove.length) out.requestHeadersToRemove = ops.requestHeadersToRemove;
  if (ops.responseHeadersToAdd.length) out.responseHeadersToAdd = ops.responseHeadersToAdd;
  if (ops.responseHeadersToRemove.length) out.responseHeadersToRemove = ops.responseHeadersToRemove;
  return out;
}

export function appendHeaderOps(a: HeaderOps, b: HeaderOps): HeaderOps {
  return {
    requestHeadersToAdd: [...a.requestHeadersToAdd, ...b.requestHeadersToAdd],
    requestHeadersToRemove: [...a.requestHeadersToRemove, ...b.requestHeadersToRemove],
    responseHeadersToAdd: [...a.responseHeadersToAdd, ...b.responseHeadersToAdd],
    responseHeadersToRemove: [...a.responseHeadersToRemove, ...b.responseHeadersToRemove],
    authority: a.authority,
  };
}

/** Percent (0-100, fractional) → FractionalPercent per million. */
export function percentFraction(p: Percent): Obj {
  return { numerator: Math.floor(p.value * 10_000), denominator: 'MILLION' };
}

/** A legacy integer percent → FractionalPercent per hundred. */
export function integerFraction(p: number): Obj {
  return { numerator: p, denominator: 'HUNDRED' };
}

/** Fault injection → envoy.filters.http.fault per-route config; undefined when nothing applicable is set. */
export function buildFaultConfig(f: HTTPFaultInjection): Obj | undefined {
  const cfg: Obj = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' };
  if (f.delay?.fixedDelay) {
    // Exponential delays are not supported by Envoy (nor Istio): such a delay is dropped.
    cfg.delay = {
      fixedDelay: protoDuration(f.delay.fixedDelay),
      percentage: f.delay.percentage ? percentFraction(f.delay.percentage) : integerFraction(f.delay.percent ?? 0),
    };
  }
  if (f.abort && (f.abort.httpStatus !== undefined || f.abort.grpcStatus !== undefined)) {
    cfg.abort = {
      ...(f.abort.httpStatus !== undefined ? { httpStatus: f.abort.httpStatus } : { grpcStatus: grpcCode(f.abort.grpcStatus!) }),
      ...(f.abort.percentage ? { percentage: percentFraction(f.abort.percentage) } : {}),
    };
  }
  return cfg.delay || cfg.abort ? cfg : undefined;
}

const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];
function grpcCode(s: string): number {
  const i = GRPC_CODES.indexOf(s.toUpperCase());
  return i >= 0 ? i : Number(s) || 2;
}

/** CORS policy → envoy.filters.http.cors per-route config. */
export function buildCorsConfig(c: CorsPolicy): Obj {
  const cfg: Obj = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy' };
  if (c.allowOrigins) cfg.allowOriginStringMatch = c.allowOrigins.map((o) => envoyStringMatch(o)).filter((o) => o !== undefined);
  else if (c.allowOrigin) cfg.allowOriginStringMatch = c.allowOrigin.map((o) => ({ exact: o }));
  if (c.allowMethods?.length) cfg.allowMethods = c.allowMethods.join(',');
  if (c.allowHeaders?.length) cfg.allowHeaders = c.allowHeaders.join(',');
  if (c.exposeHeaders?.length) cfg.exposeHeaders = c.exposeHeaders.join(',');
  if (c.maxAge) cfg.maxAge = String(protoDuration(c.maxAge).seconds);
  if (c.allowCredentials !== undefined) cfg.allowCredentials = { value: c.allowCredentials };
  cfg.filterEnabled = { defaultValue: { numerator: 100, denominator: 'HUNDRED' } };
  cfg.forwardNotMatchingPreflights = { value: c.unmatchedPreflights !== 'IGNORE' };
  return cfg;
}

/** The consistent-hash settings that apply to a destination: subset port-level, subset, port-level, top level. */
export function consistentHashFor(dr: DestinationRule | undefined, subset: string, port: number | undefined): ConsistentHashLB | undefined {
  if (!dr) return undefined;
  const portHash = (pls: DestinationRule['spec']['trafficPolicy'] | undefined) =>
    port === undefined ? undefined : pls?.portLevelSettings?.find((p) => p.port?.number === port)?.loadBalancer?.consistentHash;
  const ss = dr.spec.subsets?.find((s) => s.name === subset);
  return portHash(ss?.trafficPolicy) ?? ss?.trafficPolicy?.loadBalancer?.consistentHash ?? portHash(dr.spec.trafficPolicy) ?? dr.spec.trafficPolicy?.loadBalancer?.consistentHash;
}

/** ConsistentHashLB → an Envoy RouteAction hash policy. */
export function hashPolicy(h: ConsistentHashLB): Obj | undefined {
  if (h.httpHeaderName) return { header: { headerName: h.httpHeaderName } };
  if (h.httpCookie) return { cookie: { name: h.httpCookie.name, ...(h.httpCookie.ttl ? { ttl: protoDuration(h.httpCookie.ttl) } : {}), ...(h.httpCookie.path ? { path: h.httpCookie.path } : {}) } };
  if (h.useSourceIp) return { connectionProperties: { sourceIp: true } };
  if (h.httpQueryParameterName) return { queryParameter: { name: h.httpQueryParameterName } };
  return undefined;
}
