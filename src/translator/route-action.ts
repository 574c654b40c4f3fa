/** HTTPRoute actions → the action part of an Envoy Route: route (cluster / weighted clusters), redirect or direct response, plus headers, faults and CORS. */
import type { Destination, HTTPRoute, VirtualService } from '../api/index.js';
import type { ConfigSnapshot } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { resolveDestination, type ResolvedDestination } from './destinations.js';
import { durationFromMillis, protoDuration } from './durations.js';
import { CORS_FILTER, FAULT_FILTER } from './http-connection-manager.js';
import {
  appendHeaderOps, buildCorsConfig, buildFaultConfig, buildRetryPolicy, consistentHashFor, hashPolicy, headerFields,
  integerFraction, percentFraction, translateHeaders, type HeaderOps,
} from './route-policies.js';

type Obj = Record<string, unknown>;

const REDIRECT_CODES: Record<number, string> = { 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' };

export interface RouteContext {
  snapshot: ConfigSnapshot;
  proxy: ProxyInfo;
  vs: VirtualService;
  /** The port the request arrived on: gateway server port or service port. */
  listenerPort: number;
  /** The gateway server has TLS settings (decides a redirect's default scheme with a port). */
  isTls: boolean;
}

export function resolveIn(ctx: RouteContext, d: Destination): ResolvedDestination {
  return resolveDestination(ctx.snapshot, d, ctx.vs.metadata.namespace, ctx.listenerPort);
}

function buildRedirect(r: NonNullable<HTTPRoute['redirect']>, ctx: RouteContext): Obj {
  const redirect: Obj = { responseCode: REDIRECT_CODES[r.redirectCode ?? 301] ?? 'MOVED_PERMANENTLY' };
  if (r.authority) redirect.hostRedirect = r.authority;
  if (r.uri) redirect.pathRedirect = r.uri;
  if (r.scheme) redirect.schemeRedirect = r.scheme;
  let port: number | undefined;
  if (r.port !== undefined) port = r.port;
  else if (r.derivePort === 'FROM_REQUEST_PORT') port = ctx.listenerPort;
  if (port !== undefined) {
    const scheme = r.scheme || (ctx.isTls ? 'https' : 'http');
    // No explicit :80 / :443 for the scheme's default port.
    if (!((port === 80 && scheme === 'http') || (port === 443 && scheme === 'https'))) redirect.portRedirect = port;
  }
  return redirect;
}

function buildDirectResponse(d: NonNullable<HTTPRoute['directResponse']>): Obj {
  const body = d.body;
  return {
    status: d.status,
    ...(body?.string !== undefined ? { body: { inlineString: body.string } } : {}),
    ...(body?.bytes !== undefined ? { body: { inlineBytes: body.bytes } } : {}),
  };
}

/** The destination hash policy (DestinationRule consistentHash) for a resolved destination, if any. */
function hashPolicyFor(ctx: RouteContext, d: ResolvedDestination): Obj | undefined {
  const dr = ctx.snapshot.destinationRuleFor(d.host, ctx.proxy.namespace, d.service?.namespace, ctx.proxy.labels);
  const h = consistentHashFor(dr, d.subset, d.port);
  return h ? hashPolicy(h) : undefined;
}

function buildMirrors(r: HTTPRoute, ctx: RouteContext): Obj[] {
  const out: Obj[] = [];
  const add = (dest: Destination, fraction: Obj) => out.push({ cluster: resolveIn(ctx, dest).clusterName, runtimeFraction: { defaultValue: fraction }, traceSampled: { value: false }, disableShadowHostSuffixAppend: true });
  if (r.mirror) {
    // An explicit 0% disables mirroring.
    if (r.mirrorPercentage) { if (r.mirrorPercentage.value > 0) add(r.mirror, percentFraction(r.mirrorPercentage)); }
    else if (r.mirrorPercent !== undefined) { if (r.mirrorPercent > 0) add(r.mirror, integerFraction(r.mirrorPercent)); }
    else add(r.mirror, integerFraction(100));
  }
  for (const m of r.mirrors ?? []) {
    if (!m.percentage) add(m.destination, integerFraction(100));
    else if (m.percentage.value > 0) add(m.destination, percentFraction(m.percentage));
  }
  return out;
}

/**
 * The action fields of an Envoy Route for an HTTPRoute: `route` | `redirect` | `directResponse`,
 * header operations and typedPerFilterConfig (fault, CORS).
 */
export function buildRouteAction(r: HTTPRoute, ctx: RouteContext): Obj {
  const out: Obj = {};
  let headers: HeaderOps = translateHeaders(r.headers);
  if (r.redirect) {
    out.redirect = buildRedirect(r.redirect, ctx);
  } else if (r.directResponse) {
    out.directResponse = buildDirectResponse(r.directResponse);
  } else {
    const rewrite = r.rewrite;
    const dests = r.route ?? [];
    const hashPolicies: Obj[] = [];
    let consistentHash = false;
    let hostRewrite = rewrite?.authority || headers.authority;
    const action: Obj = {};
    if (dests.length === 1) {
      const d = resolveIn(ctx, dests[0].destination);
      action.cluster = d.clusterName;
      const dh = translateHeaders(dests[0].headers);
      headers = appendHeaderOps(headers, dh);
      hostRewrite ||= dh.authority;
      const hp = hashPolicyFor(ctx, d);
      if (hp) { hashPolicies.push(hp); consistentHash = true; }
    } else {
      // Zero-weight destinations are left out; Envoy splits by the remaining weights' sum.
      const clusters: Obj[] = [];
      for (const rd of dests) {
        if (!rd.weight) continue;
        const d = resolveIn(ctx, rd.destination);
        const dh = translateHeaders(rd.headers);
        clusters.push({ name: d.clusterName, weight: { value: rd.weight }, ...headerFields(dh), ...(dh.authority ? { hostRewriteLiteral: dh.authority } : {}) });
        const hp = hashPolicyFor(ctx, d);
        if (hp) hashPolicies.push(hp);
      }
      action.weightedClusters = { clusters };
    }
    const timeout = r.timeout ? protoDuration(r.timeout) : durationFromMillis(0);
    action.timeout = timeout;
    // gRPC: honour grpc-timeout up to the route timeout (0 = unlimited), as Istio does.
    action.maxGrpcTimeout = timeout;
    if (rewrite?.uriRegexRewrite?.match !== undefined) action.regexRewrite = { pattern: { regex: rewrite.uriRegexRewrite.match }, substitution: rewrite.uriRegexRewrite.rewrite ?? '' };
    else if (rewrite?.uri) action.prefixRewrite = rewrite.uri;
    if (hostRewrite) action.hostRewriteLiteral = hostRewrite;
    const retry = buildRetryPolicy(r.retries, consistentHash);
    if (retry) action.retryPolicy = retry;
    if (hashPolicies.length) action.hashPolicy = hashPolicies;
    const mirrors = buildMirrors(r, ctx);
    if (mirrors.length) action.requestMirrorPolicies = mirrors;
    out.route = action;
  }
  Object.assign(out, headerFields(headers));
  const perFilter: Obj = {};
  const fault = r.fault ? buildFaultConfig(r.fault) : undefined;
  if (fault) perFilter[FAULT_FILTER] = fault;
  if (r.corsPolicy) perFilter[CORS_FILTER] = buildCorsConfig(r.corsPolicy);
  if (Object.keys(perFilter).length) out.typedPerFilterConfig = perFilter;
  return out;
}
