/** HTTPRoute actions → Envoy route actions: destinations, redirect, direct response, rewrite, retries, headers, mirrors, faults, CORS. */
import type { CorsPolicy, HeaderOperations, Headers, HTTPFaultInjection, HTTPRetry, HTTPRoute } from '../api/index.js';
import { durationFromMillis, protoDuration } from './durations.js';
import { envoyStringMatch } from './route-match.js';
import type { ResolvedDestination } from './destinations.js';

type Obj = Record<string, unknown>;

const REDIRECT_CODES: Record<number, string> = { 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' };

export const FAULT_FILTER = 'envoy.filters.http.fault';
export const CORS_FILTER = 'envoy.filters.http.cors';

/** Istio's retry policy when a route sets none. */
export function defaultRetryPolicy(): Obj {
  return {
    retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    numRetries: { value: 2 },
    retriableStatusCodes: [503],
    retryHostPredicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
    hostSelectionRetryMaxAttempts: 5,
  };
}

export function buildRetryPolicy(r: HTTPRetry | undefined): Obj | undefined {
  if (!r) return defaultRetryPolicy();
  if ((r.attempts ?? 0) <= 0 && r.attempts !== undefined) return undefined;
  const policy = defaultRetryPolicy();
  policy.numRetries = { value: r.attempts ?? 2 };
  if (r.retryOn) {
    const parts = r.retryOn.split(',').map((s) => s.trim()).filter(Boolean);
    const codes = parts.filter((p) => /^\d+$/.test(p)).map(Number);
    const named = parts.filter((p) => !/^\d+$/.test(p));
    if (codes.length && !named.includes('retriable-status-codes')) named.push('retriable-status-codes');
    policy.retryOn = named.join(',');
    if (codes.length) policy.retriableStatusCodes = codes;
    else delete policy.retriableStatusCodes;
  }
  if (r.perTryTimeout) policy.perTryTimeout = protoDuration(r.perTryTimeout);
  if (r.retryRemoteLocalities === false || r.retryIgnorePreviousHosts === false) {
    delete policy.retryHostPredicate;
    delete policy.hostSelectionRetryMaxAttempts;
  }
  if (r.backoff) policy.retryBackOff = { baseInterval: protoDuration(r.backoff) };
  return policy;
}

export function headerOps(h: HeaderOperations | undefined, prefix: 'request' | 'response'): Obj {
  const out: Obj = {};
  if (!h) return out;
  const add: Obj[] = [];
  for (const [key, value] of Object.entries(h.set ?? {}).sort(([a], [b]) => a.localeCompare(b))) add.push({ header: { key, value }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  for (const [key, value] of Object.entries(h.add ?? {}).sort(([a], [b]) => a.localeCompare(b))) add.push({ header: { key, value }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' });
  if (add.length) out[`${prefix}HeadersToAdd`] = add;
  if (h.remove?.length) out[`${prefix}HeadersToRemove`] = [...h.remove];
  return out;
}

export function allHeaderOps(h: Headers | undefined): Obj {
  return { ...headerOps(h?.request, 'request'), ...headerOps(h?.response, 'response') };
}

function fractionPer(percent: number | undefined): Obj {
  const p = percent ?? 100;
  return { numerator: Math.round(p * 10_000), denominator: 'MILLION' };
}

export function buildFaultConfig(f: HTTPFaultInjection): Obj {
  const cfg: Obj = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' };
  if (f.delay) {
    const pct = f.delay.percentage?.value ?? f.delay.percent;
    cfg.delay = { fixedDelay: protoDuration(f.delay.fixedDelay ?? f.delay.exponentialDelay ?? '0s'), percentage: fractionPer(pct) };
  }
  if (f.abort) {
    const abort: Obj = { percentage: fractionPer(f.abort.percentage?.value) };
    if (f.abort.httpStatus !== undefined) abort.httpStatus = f.abort.httpStatus;
    else if (f.abort.grpcStatus !== undefined) abort.grpcStatus = grpcCode(f.abort.grpcStatus);
    else abort.http2Error = {};
    cfg.abort = abort;
  }
  return cfg;
}

const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];
function grpcCode(s: string): number {
  const i = GRPC_CODES.indexOf(s.toUpperCase());
  return i >= 0 ? i : Number(s) || 2;
}

export function buildCorsConfig(c: CorsPolicy): Obj {
  const origins = [...(c.allowOrigins ?? []).map((o) => envoyStringMatch(o)), ...(c.allowOrigin ?? []).map((o) => (o === '*' ? { prefix: '' } : { exact: o }))];
  const cfg: Obj = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy', allowOriginStringMatch: origins };
  if (c.allowMethods?.length) cfg.allowMethods = c.allowMethods.join(',');
  if (c.allowHeaders?.length) cfg.allowHeaders = c.allowHeaders.join(',');
  if (c.exposeHeaders?.length) cfg.exposeHeaders = c.exposeHeaders.join(',');
  if (c.maxAge) cfg.maxAge = String(Math.floor(protoDuration(c.maxAge).seconds));
  if (c.allowCredentials !== undefined) cfg.allowCredentials = { value: c.allowCredentials };
  if (c.unmatchedPreflights === 'IGNORE') cfg.forwardNotMatchingPreflights = { value: false };
  return cfg;
}

export interface RouteDestinations {
  /** Resolved destinations in route order (weights parallel). */
  resolve: (d: NonNullable<HTTPRoute['route']>[number]['destination']) => ResolvedDestination;
}

/** Builds the action part of an Envoy Route (route / redirect / directResponse) plus per-route extras. */
export function buildRouteAction(r: HTTPRoute, ctx: RouteDestinations, listenerPort: number): Obj {
  const out: Obj = {};
  if (r.redirect) {
    const rd = r.redirect;
    const redirect: Obj = { responseCode: REDIRECT_CODES[rd.redirectCode ?? 301] ?? 'MOVED_PERMANENTLY' };
    if (rd.uri !== undefined) redirect.pathRedirect = rd.uri;
    if (rd.authority !== undefined) redirect.hostRedirect = rd.authority;
    if (rd.port !== undefined) redirect.portRedirect = rd.port;
    else if (rd.derivePort === 'FROM_REQUEST_PORT') redirect.portRedirect = listenerPort;
    if (rd.scheme !== undefined) redirect.schemeRedirect = rd.scheme;
    out.redirect = redirect;
  } else if (r.directResponse) {
    const body = r.directResponse.body;
    out.directResponse = {
      status: r.directResponse.status,
      ...(body?.string !== undefined ? { body: { inlineString: body.string } } : {}),
      ...(body?.bytes !== undefined ? { body: { inlineBytes: Buffer.from(body.bytes, 'base64') } } : {}),
    };
  } else {
    const dests = (r.route ?? []).map((d) => ({ d, res: ctx.resolve(d.destination) }));
    const weighted = dests.filter(({ d }) => dests.length === 1 || (d.weight ?? 0) > 0);
    const action: Obj = {};
    if (weighted.length === 1) {
      action.cluster = weighted[0].res.clusterName;
    } else {
      action.weightedClusters = {
        clusters: weighted.map(({ d, res }) => ({ name: res.clusterName, weight: { value: weighted.length === 1 ? 100 : d.weight ?? 0 }, ...allHeaderOps(d.headers) })),
      };
    }
    if (weighted.length === 1 && weighted[0].d.headers) Object.assign(out, allHeaderOps(weighted[0].d.headers));
    action.timeout = r.timeout ? protoDuration(r.timeout) : durationFromMillis(0);
    const retry = buildRetryPolicy(r.retries);
    if (retry) action.retryPolicy = retry;
    if (r.rewrite?.uri !== undefined) action.prefixRewrite = r.rewrite.uri === '' ? '/' : r.rewrite.uri;
    if (r.rewrite?.uriRegexRewrite?.match) action.regexRewrite = { pattern: { regex: r.rewrite.uriRegexRewrite.match }, substitution: r.rewrite.uriRegexRewrite.rewrite ?? '' };
    if (r.rewrite?.authority !== undefined) action.hostRewriteLiteral = r.rewrite.authority;
    const mirrors = r.mirrors?.map((m) => ({ dest: m.destination, pct: m.percentage?.value })) ?? (r.mirror ? [{ dest: r.mirror, pct: r.mirrorPercentage?.value ?? r.mirrorPercent }] : []);
    if (mirrors.length) {
      action.requestMirrorPolicies = mirrors.map((m) => ({
        cluster: ctx.resolve(m.dest).clusterName,
        runtimeFraction: { defaultValue: fractionPer(m.pct) },
        traceSampled: { value: false },
      }));
    }
    out.route = action;
  }
  Object.assign(out, mergeHeaderOps(out, allHeaderOps(r.headers)));
  const perFilter: Obj = {};
  if (r.fault) perFilter[FAULT_FILTER] = buildFaultConfig(r.fault);
  if (r.corsPolicy) perFilter[CORS_FILTER] = buildCorsConfig(r.corsPolicy);
  if (Object.keys(perFilter).length) out.typedPerFilterConfig = perFilter;
  return out;
}

function mergeHeaderOps(a: Obj, b: Obj): Obj {
  const out: Obj = {};
  for (const k of Object.keys(b)) out[k] = [...((a[k] as unknown[]) ?? []), ...(b[k] as unknown[])];
  return out;
}
