/** Istio's semantic rules for VirtualService, on an already schema-checked spec. */
import { checkExportTo, checkHeaderName, checkIpOrCidr, checkLabels, checkMinDuration, checkRegex, checkStringMatch, checkWildcardHost, isDns1123Label, Issues } from './checks.js';
import type { Destination, Headers, HTTPMatchRequest, HTTPRoute, RouteDestination, VirtualServiceSpec } from './virtual-service.js';

const RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', '*']);

function checkGatewayRef(issues: Issues, path: string, g: string): void {
  if (g === 'mesh') return;
  const parts = g.split('/');
  if (parts.length > 2) return issues.error(path, `gateway "${g}" must be "mesh", "name" or "namespace/name"`);
  if (parts.length === 2 && !isDns1123Label(parts[0])) issues.error(path, `gateway "${g}": invalid namespace "${parts[0]}"`);
  checkWildcardHost(issues, path, parts[parts.length - 1]);
  if (parts[parts.length - 1].includes('*')) issues.error(path, `gateway "${g}" must not contain a wildcard`);
}

function checkDestination(issues: Issues, path: string, d: Destination): void {
  if (d.host === '') issues.error(`${path}.host`, 'destination host is required');
  else if (d.host.includes('/')) issues.error(`${path}.host`, `destination host "${d.host}" must not contain a namespace ("ns/host" is only for gateways)`);
  else checkWildcardHost(issues, `${path}.host`, d.host);
  if (d.host === '*') issues.error(`${path}.host`, 'destination host cannot be "*"');
  if (d.subset !== undefined && !isDns1123Label(d.subset)) issues.error(`${path}.subset`, `subset "${d.subset}" must be a DNS-1123 label`);
}

function checkWeights(issues: Issues, path: string, dests: ReadonlyArray<{ weight?: number }>): void {
  let total = 0;
  dests.forEach((d, i) => {
    if (d.weight !== undefined && d.weight < 0) issues.error(`${path}[${i}].weight`, 'weight must not be negative');
    total += d.weight ?? 0;
  });
  if (dests.length > 1 && total === 0) issues.error(path, 'with several destinations, at least one weight must be positive');
  if (dests.length > 1 && total > 0 && dests.some((d) => d.weight === undefined)) {
    issues.warn(path, 'some destinations have no weight while others do; those without one get weight 0');
  }
}

function checkHeaderOps(issues: Issues, path: string, h: Headers | undefined): void {
  for (const dir of ['request', 'response'] as const) {
    const ops = h?.[dir];
    if (!ops) continue;
    for (const kind of ['set', 'add'] as const) {
      for (const name of Object.keys(ops[kind] ?? {})) {
        checkHeaderName(issues, `${path}.${dir}.${kind}.${name}`, name);
        if (name.startsWith(':') || name.toLowerCase() === 'host') issues.error(`${path}.${dir}.${kind}.${name}`, `header "${name}" cannot be modified`);
      }
    }
    (ops.remove ?? []).forEach((name, i) => {
      checkHeaderName(issues, `${path}.${dir}.remove[${i}]`, name);
      if (name.startsWith(':') || name.toLowerCase() === 'host') issues.error(`${path}.${dir}.remove[${i}]`, `header "${name}" cannot be removed`);
    });
  }
}

function checkMatch(issues: Issues, path: string, m: HTTPMatchRequest): void {
  for (const f of ['uri', 'scheme', 'method', 'authority'] as const) {
    const sm = m[f];
    if (sm) checkStringMatch(issues, `${path}.${f}`, sm, false);
  }
  for (const f of ['headers', 'withoutHeaders', 'queryParams'] as const) {
    for (const [name, sm] of Object.entries(m[f] ?? {})) {
      if (f !== 'queryParams') {
        checkHeaderName(issues, `${path}.${f}.${name}`, name);
        if (name.toLowerCase() !== name) issues.error(`${path}.${f}.${name}`, `header name "${name}" must be lowercase`);
      }
      checkStringMatch(issues, `${path}.${f}.${name}`, sm, true);
    }
  }
  checkLabels(issues, `${path}.sourceLabels`, m.sourceLabels);
  (m.gateways ?? []).forEach((g, i) => checkGatewayRef(issues, `${path}.gateways[${i}]`, g));
  if (m.sourceNamespace !== undefined && !isDns1123Label(m.sourceNamespace)) issues.error(`${path}.sourceNamespace`, `"${m.sourceNamespace}" is not a valid namespace name`);
}

function checkHttpRoute(issues: Issues, path: string, r: HTTPRoute, isDelegate: boolean): void {
  const hasRoute = (r.route?.length ?? 0) > 0;
  const actions = [hasRoute, r.redirect !== undefined, r.directResponse !== undefined, r.delegate !== undefined].filter(Boolean).length;
  if (actions === 0) issues.error(path, 'one of route, redirect, directResponse or delegate is required');
  if (actions > 1) issues.error(path, 'only one of route, redirect, directResponse or delegate may be set');
  if (r.delegate && isDelegate) issues.error(`${path}.delegate`, 'a delegate VirtualService cannot delegate again');
  if (r.delegate && !r.delegate.name) issues.error(`${path}.delegate.name`, 'delegate name is required');
  if (r.redirect && r.rewrite) issues.error(path, 'rewrite cannot be combined with redirect');
  if (r.directResponse && (r.rewrite || r.fault || r.mirror || r.mirrors)) issues.error(path, 'directResponse cannot be combined with rewrite, fault or mirror');
  (r.match ?? []).forEach((m, i) => checkMatch(issues, `${path}.match[${i}]`, m));
  (r.route ?? []).forEach((d, i) => {
    checkDestination(issues, `${path}.route[${i}].destination`, d.destination);
    checkHeaderOps(issues, `${path}.route[${i}].headers`, d.headers);
  });
  if (r.route) checkWeights(issues, `${path}.route`, r.route);
  checkHeaderOps(issues, `${path}.headers`, r.headers);
  if (r.redirect) {
    const rd = r.redirect;
    if (rd.redirectCode !== undefined && !REDIRECT_CODES.has(rd.redirectCode)) issues.error(`${path}.redirect.redirectCode`, `redirect code ${rd.redirectCode} must be one of 301, 302, 303, 307, 308`);
    if (rd.port !== undefined && rd.derivePort !== undefined) issues.error(`${path}.redirect`, 'only one of port or derivePort may be set');
    if (rd.uri === undefined && rd.authority === undefined && rd.port === undefined && rd.derivePort === undefined && rd.scheme === undefined) {
      issues.error(`${path}.redirect`, 'redirect must set at least one of uri, authority, port, derivePort or scheme');
    }
  }
  if (r.directResponse) {
    const dr = r.directResponse;
    if (dr.status < 200 || dr.status > 599) issues.error(`${path}.directResponse.status`, `status ${dr.status} must be between 200 and 599`);
    if (dr.body?.string !== undefined && dr.body.bytes !== undefined) issues.error(`${path}.directResponse.body`, 'only one of string or bytes may be set');
    if (dr.body?.bytes !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(dr.body.bytes)) issues.error(`${path}.directResponse.body.bytes`, 'bytes must be base64');
  }
  if (r.rewrite) {
    if (r.rewrite.uri !== undefined && r.rewrite.uriRegexRewrite !== undefined) issues.error(`${path}.rewrite`, 'only one of uri or uriRegexRewrite may be set');
    const rr = r.rewrite.uriRegexRewrite;
    if (rr) {
      if (!rr.match) issues.error(`${path}.rewrite.uriRegexRewrite.match`, 'match is required');
      else checkRegex(issues, `${path}.rewrite.uriRegexRewrite.match`, rr.match);
      if (rr.rewrite === undefined) issues.error(`${path}.rewrite.uriRegexRewrite.rewrite`, 'rewrite is required');
    }
    if (r.rewrite.uri === '' && r.match?.some((m) => m.uri?.exact !== undefined)) issues.error(`${path}.rewrite.uri`, 'an empty uri rewrite is not allowed with an exact uri match');
  }
  checkMinDuration(issues, `${path}.timeout`, r.timeout, 1);
  if (r.retries) {
    const rt = r.retries;
    if ((rt.attempts ?? 0) < 0) issues.error(`${path}.retries.attempts`, 'attempts must not be negative');
    checkMinDuration(issues, `${path}.retries.perTryTimeout`, rt.perTryTimeout, 1);
    checkMinDuration(issues, `${path}.retries.backoff`, rt.backoff, 1);
    if (rt.retryOn !== undefined) {
      rt.retryOn.split(',').map((s) => s.trim()).forEach((p) => {
        if (p === '' || RETRY_ON.has(p)) return;
        const code = Number(p);
        if (!(Number.isInteger(code) && code >= 100 && code <= 599)) issues.error(`${path}.retries.retryOn`, `unknown retry policy "${p}"`);
      });
    }
  }
  if (r.fault) {
    const { delay, abort } = r.fault;
    if (!delay && !abort) issues.error(`${path}.fault`, 'fault must set delay or abort');
    if (delay) {
      if ((delay.fixedDelay === undefined) === (delay.exponentialDelay === undefined)) issues.error(`${path}.fault.delay`, 'exactly one of fixedDelay or exponentialDelay is required');
      checkMinDuration(issues, `${path}.fault.delay.fixedDelay`, delay.fixedDelay, 1);
      if (delay.percent !== undefined && (delay.percent < 0 || delay.percent > 100)) issues.error(`${path}.fault.delay.percent`, 'percent must be between 0 and 100');
    }
    if (abort) {
      const n = [abort.httpStatus, abort.grpcStatus, abort.http2Error].filter((x) => x !== undefined).length;
      if (n !== 1) issues.error(`${path}.fault.abort`, 'exactly one of httpStatus, grpcStatus or http2Error is required');
      if (abort.httpStatus !== undefined && (abort.httpStatus < 200 || abort.httpStatus > 599)) issues.error(`${path}.fault.abort.httpStatus`, `httpStatus ${abort.httpStatus} must be between 200 and 599`);
    }
  }
  if (r.mirror && r.mirrors) issues.error(path, 'only one of mirror or mirrors may be set');
  if (r.mirror) checkDestination(issues, `${path}.mirror`, r.mirror);
  (r.mirrors ?? []).forEach((m, i) => checkDestination(issues, `${path}.mirrors[${i}].destination`, m.destination));
  if (r.mirrorPercent !== undefined && r.mirrorPercent > 100) issues.error(`${path}.mirrorPercent`, 'mirrorPercent must be between 0 and 100');
  if (r.corsPolicy) {
    const c = r.corsPolicy;
    (c.allowOrigins ?? []).forEach((o, i) => checkStringMatch(issues, `${path}.corsPolicy.allowOrigins[${i}]`, o, false));
    (c.allowMethods ?? []).forEach((m, i) => { if (!HTTP_METHODS.has(m)) issues.error(`${path}.corsPolicy.allowMethods[${i}]`, `"${m}" is not an HTTP method`); });
    for (const f of ['allowHeaders', 'exposeHeaders'] as const) (c[f] ?? []).forEach((h, i) => { if (h !== '*') checkHeaderName(issues, `${path}.corsPolicy.${f}[${i}]`, h); });
    checkMinDuration(issues, `${path}.corsPolicy.maxAge`, c.maxAge, 1000);
    if (c.allowOrigin) issues.warn(`${path}.corsPolicy.allowOrigin`, 'allowOrigin is deprecated; use allowOrigins');
  }
}

/** Istio: an SNI host must be a subset of a VirtualService host ("*", equal, or under its wildcard). */
function sniWithinHost(sni: string, host: string): boolean {
  return host === '*' || sni === host || (host.startsWith('*.') && sni.endsWith(host.slice(1)));
}

function checkL4Route(issues: Issues, path: string, route: RouteDestination[] | undefined): void {
  if (!route || route.length === 0) return issues.error(`${path}.route`, 'at least one route destination is required');
  route.forEach((d, i) => checkDestination(issues, `${path}.route[${i}].destination`, d.destination));
  checkWeights(issues, `${path}.route`, route);
}

export function validateVirtualServiceSpec(spec: VirtualServiceSpec): Issues {
  const issues = new Issues();
  const hosts = spec.hosts ?? [];
  const isDelegate = hosts.length === 0;
  if (isDelegate && (spec.gateways?.length ?? 0) > 0) issues.error('spec.gateways', 'a delegate VirtualService (no hosts) must not set gateways');
  const appliesToMesh = (spec.gateways ?? []).length === 0 || spec.gateways!.includes('mesh');
  const seen = new Set<string>();
  hosts.forEach((h, i) => {
    const p = `spec.hosts[${i}]`;
    if (seen.has(h)) issues.error(p, `duplicate host "${h}"`);
    seen.add(h);
    if (h.includes('/')) return issues.error(p, `host "${h}" must not contain "/"`);
    checkWildcardHost(issues, p, h);
    if (h === '*' && appliesToMesh) issues.error(p, 'wildcard host "*" is not allowed for VirtualServices bound to the mesh');
  });
  (spec.gateways ?? []).forEach((g, i) => checkGatewayRef(issues, `spec.gateways[${i}]`, g));
  if (!isDelegate && !spec.http?.length && !spec.tcp?.length && !spec.tls?.length) issues.error('spec', 'at least one of http, tcp or tls routes is required');
  (spec.http ?? []).forEach((r, i) => checkHttpRoute(issues, `spec.http[${i}]`, r, isDelegate));
  const names = new Set<string>();
  (spec.http ?? []).forEach((r, i) => {
    if (r.name && names.has(r.name)) issues.warn(`spec.http[${i}].name`, `route name "${r.name}" is used more than once`);
    if (r.name) names.add(r.name);
  });
  (spec.tcp ?? []).forEach((r, i) => {
    (r.match ?? []).forEach((m, j) => {
      (m.destinationSubnets ?? []).forEach((s, k) => checkIpOrCidr(issues, `spec.tcp[${i}].match[${j}].destinationSubnets[${k}]`, s));
      checkLabels(issues, `spec.tcp[${i}].match[${j}].sourceLabels`, m.sourceLabels);
      (m.gateways ?? []).forEach((g, k) => checkGatewayRef(issues, `spec.tcp[${i}].match[${j}].gateways[${k}]`, g));
    });
    checkL4Route(issues, `spec.tcp[${i}]`, r.route);
  });
  (spec.tls ?? []).forEach((r, i) => {
    if (r.match.length === 0) issues.error(`spec.tls[${i}].match`, 'at least one match with sniHosts is required');
    r.match.forEach((m, j) => {
      if (m.sniHosts.length === 0) issues.error(`spec.tls[${i}].match[${j}].sniHosts`, 'at least one SNI host is required');
      m.sniHosts.forEach((h, k) => {
        checkWildcardHost(issues, `spec.tls[${i}].match[${j}].sniHosts[${k}]`, h);
        if (!(spec.hosts ?? []).some((vh) => sniWithinHost(h.toLowerCase(), vh.toLowerCase()))) {
          issues.error(`spec.tls[${i}].match[${j}].sniHosts[${k}]`, `SNI host "${h}" is not within any of the VirtualService hosts [${(spec.hosts ?? []).join(', ')}]`);
        }
      });
      (m.destinationSubnets ?? []).forEach((s, k) => checkIpOrCidr(issues, `spec.tls[${i}].match[${j}].destinationSubnets[${k}]`, s));
      checkLabels(issues, `spec.tls[${i}].match[${j}].sourceLabels`, m.sourceLabels);
    });
    checkL4Route(issues, `spec.tls[${i}]`, r.route);
  });
  checkExportTo(issues, 'spec.exportTo', spec.exportTo);
  return issues;
}
