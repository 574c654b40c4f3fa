/**
 * `meshpilot explain`: the path one request takes through a proxy's xDS, as Envoy would walk it:
 * listener → filter chain → route configuration → virtual host → first matching route → the
 * VirtualService rule it came from → clusters (with weights) → endpoints. Pure: it reads the
 * translator's output (or what a running meshpilot sent) and says why at each step.
 */
import type { ProxyType } from '../proxy/node.js';
import type { NamedResource, XdsResources } from '../translator/types.js';
import { selectGatewayListener, selectSidecarListener, terminalFilter } from './listeners.js';
import { routeMatches, selectVirtualHost, type Verdict } from './matchers.js';
import type { ExplainRequest } from './request.js';
import { routePolicies } from './policies.js';
import { explainCluster, routeClusters, type ExplainedCluster } from './upstream.js';

type Obj = Record<string, unknown>;

export interface RejectedRoute { index: number; name?: string; failed: string[] }

export type Outcome =
  | { kind: 'route'; clusters: ExplainedCluster[] }
  | { kind: 'tcp'; clusters: ExplainedCluster[] }
  | { kind: 'redirect'; status: number; location: string }
  | { kind: 'direct-response'; status: number; body?: string }
  | { kind: 'refused'; status?: number; reason: string };

export interface Explanation {
  proxy: { id: string; type: ProxyType };
  request: ExplainRequest;
  listener?: { name: string; filterChain: number; reason: string };
  routeConfiguration?: string;
  virtualHost?: { name: string; domain: string; reason: string };
  route?: { index: number; name?: string; match: Obj; reason: string[]; policies: string[] };
  /** The Istio object the route came from, e.g. "VirtualService default/reviews". */
  virtualService?: string;
  /** Routes of the virtual host tried before the one that matched, with what failed. */
  rejectedRoutes: RejectedRoute[];
  outcome: Outcome;
  /** The walk in words, one line per step. */
  steps: string[];
}

export interface ExplainInput {
  proxy: { id: string; type: ProxyType };
  resources: XdsResources;
  request: ExplainRequest;
  /** The request's destination IP (sidecar: picks the VIP_PORT listener; gateway: the bound address). */
  address?: string;
}

const REDIRECT_STATUS: Record<string, number> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };

/** "/apis/networking.istio.io/v1/namespaces/NS/virtual-service/NAME" → "VirtualService NS/NAME". */
export function configSource(route: Obj): string | undefined {
  const ref = ((route.metadata as Obj | undefined)?.filterMetadata as { istio?: { config?: string } } | undefined)?.istio?.config;
  const m = ref ? /^\/apis\/[^/]+\/[^/]+\/namespaces\/([^/]+)\/virtual-service\/([^/]+)$/.exec(ref) : null;
  return m ? `VirtualService ${m[1]}/${m[2]}` : ref;
}

function redirectLocation(r: Obj, req: ExplainRequest): string {
  const scheme = typeof r.schemeRedirect === 'string' ? r.schemeRedirect : r.httpsRedirect ? 'https' : req.scheme;
  const host = typeof r.hostRedirect === 'string' ? r.hostRedirect : req.hostname;
  const port = typeof r.portRedirect === 'number' ? `:${r.portRedirect}` : '';
  const path = typeof r.pathRedirect === 'string' ? r.pathRedirect : req.path;
  return `${scheme}://${host}${port}${path}`;
}

function describeClusters(clusters: readonly ExplainedCluster[]): string[] {
  return clusters.map((c) => {
    const eps = c.endpoints.map((e) => `${e.address}${e.port !== undefined ? `:${e.port}` : ''}`).join(', ');
    const what = c.problem ?? (c.type === 'ORIGINAL_DST' ? 'to the original destination' : `endpoints: ${eps}`);
    return `cluster ${c.name} (${c.percent}%${c.weight !== undefined ? `, weight ${c.weight}` : ''}): ${what}`;
  });
}

function actionOutcome(route: Obj, resources: XdsResources, req: ExplainRequest): Outcome {
  if (route.redirect) {
    const r = route.redirect as Obj;
    return { kind: 'redirect', status: REDIRECT_STATUS[String(r.responseCode ?? 'MOVED_PERMANENTLY')] ?? 301, location: redirectLocation(r, req) };
  }
  if (route.directResponse) {
    const d = route.directResponse as { status?: number; body?: { inlineString?: string } };
    return { kind: 'direct-response', status: Number(d.status ?? 200), ...(d.body?.inlineString !== undefined ? { body: d.body.inlineString } : {}) };
  }
  const action = route.route as Obj | undefined;
  if (!action) return { kind: 'refused', status: 404, reason: 'the route has no action' };
  return { kind: 'route', clusters: routeClusters(action).filter((c) => c.percent > 0).map((c) => explainCluster(resources, c.name, c.percent, c.weight)) };
}

function explainHttp(input: ExplainInput, routeConfigName: string, out: Explanation): Explanation {
  const { resources, request: req } = input;
  const rc = resources.routes.find((r: NamedResource) => r.name === routeConfigName)?.value;
  out.routeConfiguration = routeConfigName;
  if (!rc) {
    out.steps.push(`route configuration ${routeConfigName}: the proxy was not given it; Envoy answers 404 (NR)`);
    out.outcome = { kind: 'refused', status: 404, reason: `route configuration ${routeConfigName} missing` };
    return out;
  }
  const ignorePort = (rc.ignorePortInHostMatching as boolean | undefined) === true;
  const host = ignorePort ? req.authority.replace(/:\d+$/, '') : req.authority;
  const vhosts = (rc.virtualHosts as Obj[] | undefined) ?? [];
  const sel = selectVirtualHost(vhosts, host);
  if (!sel) {
    out.steps.push(`route configuration ${routeConfigName}: no virtual host has a domain matching "${host}"; Envoy answers 404 (NR)`);
    out.outcome = { kind: 'refused', status: 404, reason: `no virtual host for "${host}"` };
    return out;
  }
  const vhName = String(sel.vhost.name);
  const vhReason = `host "${host}"${ignorePort ? ' (port ignored)' : ''} matches ${sel.kind} "${sel.domain}"`;
  out.virtualHost = { name: vhName, domain: sel.domain, reason: vhReason };
  out.steps.push(`route configuration ${routeConfigName}, virtual host ${vhName}: ${vhReason}`);
  if (sel.vhost.requireTls && req.scheme !== 'https') {
    out.steps.push(`virtual host ${vhName} requires TLS: Envoy redirects to https (301)`);
    out.outcome = { kind: 'redirect', status: 301, location: `https://${req.hostname}${req.path}` };
    return out;
  }
  const routes = (sel.vhost.routes as Obj[] | undefined) ?? [];
  for (const [index, route] of routes.entries()) {
    const m = routeMatches((route.match as Obj | undefined) ?? {}, req);
    const name = typeof route.name === 'string' ? route.name : undefined;
    if (!m.ok) {
      out.rejectedRoutes.push({ index, ...(name ? { name } : {}), failed: m.checks.filter((c: Verdict) => !c.ok).map((c) => c.reason) });
      continue;
    }
    const policies = routePolicies(route, sel.vhost);
    out.route = { index, ...(name ? { name } : {}), match: (route.match as Obj | undefined) ?? {}, reason: m.checks.map((c) => c.reason), policies };
    const src = configSource(route);
    if (src) out.virtualService = src;
    const skipped = out.rejectedRoutes.length ? ` (${out.rejectedRoutes.length} earlier route(s) did not match)` : '';
    out.steps.push(`route ${index}${name ? ` "${name}"` : ''} is the first that matches${skipped}: ${m.checks.map((c) => c.reason).join('; ')}`);
    if (src) out.steps.push(`it comes from ${src}${name ? `, rule "${name}"` : ''}`);
    if (policies.length) out.steps.push(`the route also applies: ${policies.join('; ')}`);
    out.outcome = actionOutcome(route, resources, req);
    return out;
  }
  out.steps.push(`virtual host ${vhName}: none of its ${routes.length} route(s) matches; Envoy answers 404 (NR)`);
  out.outcome = { kind: 'refused', status: 404, reason: 'no route matches' };
  return out;
}

/** Walks one request through a proxy's resources. */
export function explainRequest(input: ExplainInput): Explanation {
  const { resources, request: req, proxy } = input;
  const out: Explanation = { proxy, request: req, rejectedRoutes: [], outcome: { kind: 'refused', reason: 'not evaluated' }, steps: [] };
  const l = proxy.type === 'router' ? selectGatewayListener(resources.listeners, req, input.address) : selectSidecarListener(resources.listeners, req, input.address);
  if (!l.ok) {
    out.steps.push(l.reason);
    out.outcome = { kind: 'refused', reason: l.reason };
    return finish(out);
  }
  out.listener = { name: l.value.listener.name, filterChain: l.value.chainIndex, reason: l.value.reason };
  out.steps.push(l.value.reason);
  const filter = terminalFilter(l.value.chain);
  if (!filter) {
    out.outcome = { kind: 'refused', reason: `listener ${l.value.listener.name}: the filter chain has neither an HTTP connection manager nor tcp_proxy` };
    out.steps.push(out.outcome.reason);
  } else if (filter.kind === 'tcp') {
    out.steps.push(`the chain proxies TCP (tcp_proxy): HTTP routing does not apply`);
    out.outcome = { kind: 'tcp', clusters: routeClusters(filter.config).filter((c) => c.percent > 0).map((c) => explainCluster(resources, c.name, c.percent, c.weight)) };
  } else {
    explainHttp(input, filter.routeConfig, out);
  }
  return finish(out);
}

function finish(out: Explanation): Explanation {
  const o = out.outcome;
  if (o.kind === 'route' || o.kind === 'tcp') out.steps.push(...describeClusters(o.clusters));
  else if (o.kind === 'redirect') out.steps.push(`Envoy answers ${o.status} redirect to ${o.location}`);
  else if (o.kind === 'direct-response') out.steps.push(`Envoy answers ${o.status} itself${o.body !== undefined ? ` with body "${o.body}"` : ''}`);
  return out;
}
