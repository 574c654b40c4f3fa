/**
 * VirtualService delegation, with Istio's merge rules. A root VirtualService (one with hosts) may
 * hand an HTTP rule to a delegate VirtualService (one without hosts) by name and namespace; the
 * rule is replaced by the delegate's rules, each merged with it:
 * - matches: every delegate match must fit inside some root match (the delegate can narrow, not
 *   widen: a prefix under the root's prefix, the same exact value, no regex on both sides, equal
 *   ports/ignoreUriCase/sourceNamespace, labels and gateways a subset); the merged match is the
 *   delegate's with the root's conditions filled in. A delegate rule that fits no root match is
 *   dropped (and reported);
 * - policies (rewrite, timeout, retries, fault, mirrors, CORS, headers, directResponse) come from
 *   the delegate rule, or from the root rule when the delegate leaves them unset;
 * - names join as "root-delegate".
 * A missing delegate, or one not exported to the root's namespace, drops that root rule only.
 * Destination hosts of a delegate resolve in the delegate's namespace.
 */
import type { HTTPMatchRequest, HTTPRoute, StringMatch, VirtualService } from '../api/index.js';
import { resolveShortName } from './hosts.js';

export interface DelegationResult {
  /** Root VirtualServices with their delegated rules merged in; others unchanged. */
  virtualServices: VirtualService[];
  /** What could not be merged, naming the objects. */
  notes: string[];
}

const ref = (vs: VirtualService) => `VirtualService ${vs.metadata.namespace}/${vs.metadata.name}`;

/** A delegate VirtualService: no hosts. */
export function isDelegate(vs: VirtualService): boolean {
  return (vs.spec.hosts?.length ?? 0) === 0;
}

function exportedTo(vs: VirtualService, namespace: string): boolean {
  const e = vs.spec.exportTo;
  if (!e || e.length === 0 || e.includes('*')) return true;
  return e.some((x) => (x === '.' ? vs.metadata.namespace : x) === namespace);
}

export function resolveDelegation(all: readonly VirtualService[], domainSuffix: string): DelegationResult {
  const byName = new Map(all.filter(isDelegate).map((vs) => [`${vs.metadata.namespace}/${vs.metadata.name}`, vs]));
  const notes: string[] = [];
  const out = all.map((vs) => {
    if (isDelegate(vs) || !(vs.spec.http ?? []).some((r) => r.delegate)) return vs;
    const http: HTTPRoute[] = [];
    (vs.spec.http ?? []).forEach((rule, i) => {
      if (!rule.delegate) return http.push(rule);
      const ns = rule.delegate.namespace || vs.metadata.namespace;
      const key = `${ns}/${rule.delegate.name ?? ''}`;
      const target = byName.get(key);
      if (!target) return notes.push(`${ref(vs)}: spec.http[${i}].delegate: VirtualService ${key} not found (or it has hosts); the rule is ignored`);
      if (!exportedTo(target, vs.metadata.namespace)) return notes.push(`${ref(vs)}: spec.http[${i}].delegate: ${ref(target)} is not exported to namespace ${vs.metadata.namespace}; the rule is ignored`);
      (target.spec.http ?? []).forEach((leaf, j) => {
        const merged = mergeRule(rule, qualifyHosts(leaf, ns, domainSuffix));
        if (merged) http.push(merged);
        else notes.push(`${ref(vs)}: spec.http[${i}] delegates to ${ref(target)} whose spec.http[${j}] matches outside the root rule's match; that delegate rule is ignored`);
      });
    });
    return Object.freeze({ ...vs, spec: { ...vs.spec, http } }) as VirtualService;
  });
  return { virtualServices: out, notes };
}

/** Destination hosts of a delegate rule, qualified in the delegate's namespace. */
function qualifyHosts(r: HTTPRoute, ns: string, suffix: string): HTTPRoute {
  const q = <T extends { host: string }>(d: T): T => ({ ...d, host: resolveShortName(d.host, ns, suffix) });
  return {
    ...r,
    ...(r.route ? { route: r.route.map((d) => ({ ...d, destination: q(d.destination) })) } : {}),
    ...(r.mirror ? { mirror: q(r.mirror) } : {}),
    ...(r.mirrors ? { mirrors: r.mirrors.map((m) => ({ ...m, destination: q(m.destination) })) } : {}),
  };
}

const INHERITED = ['rewrite', 'directResponse', 'timeout', 'retries', 'fault', 'mirror', 'mirrorPercent', 'mirrorPercentage', 'corsPolicy', 'mirrors', 'headers'] as const;

function joinNames(root: string | undefined, leaf: string | undefined): string | undefined {
  if (!leaf) return root;
  return root ? `${root}-${leaf}` : leaf;
}

/** The delegate rule merged with its root rule, or undefined when its matches fit no root match. */
export function mergeRule(root: HTTPRoute, leaf: HTTPRoute): HTTPRoute | undefined {
  const match = mergeMatches(root.match ?? [], leaf.match ?? []);
  if (match === undefined) return undefined;
  const out: HTTPRoute = { ...leaf };
  delete out.delegate;
  if (match.length > 0) out.match = match;
  else delete out.match;
  const name = joinNames(root.name, leaf.name);
  if (name) out.name = name;
  const target = out as Record<string, unknown>;
  for (const k of INHERITED) if (target[k] === undefined && root[k] !== undefined) target[k] = root[k];
  return out;
}

function mergeMatches(root: readonly HTTPMatchRequest[], leaf: readonly HTTPMatchRequest[]): HTTPMatchRequest[] | undefined {
  if (root.length === 0) return [...leaf];
  if (leaf.length === 0) return [...root];
  const out: HTTPMatchRequest[] = [];
  for (const l of leaf) {
    const fits = root.filter((r) => !conflicts(r, l));
    if (fits.length === 0) return undefined;
    for (const r of fits) out.push(mergeMatch(r, l));
  }
  return out;
}

function mergeMatch(root: HTTPMatchRequest, leaf: HTTPMatchRequest): HTTPMatchRequest {
  const out: HTTPMatchRequest = { ...leaf };
  const name = joinNames(root.name, leaf.name);
  if (name) out.name = name;
  for (const k of ['uri', 'scheme', 'method', 'authority', 'port', 'sourceNamespace', 'statPrefix', 'ignoreUriCase'] as const) {
    if (out[k] === undefined && root[k] !== undefined) (out as Record<string, unknown>)[k] = root[k];
  }
  for (const k of ['headers', 'withoutHeaders', 'queryParams', 'sourceLabels'] as const) {
    if (root[k] || leaf[k]) (out as Record<string, unknown>)[k] = { ...(root[k] ?? {}), ...(leaf[k] ?? {}) };
  }
  if (!leaf.gateways?.length && root.gateways?.length) out.gateways = root.gateways;
  return out;
}

/** Does the delegate match ask for something outside the root match? */
function conflicts(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  for (const k of ['uri', 'scheme', 'method', 'authority'] as const) if (stringConflict(root[k], leaf[k])) return true;
  for (const k of ['headers', 'withoutHeaders', 'queryParams'] as const) {
    for (const [name, m] of Object.entries(leaf[k] ?? {})) if (stringConflict(root[k]?.[name], m)) return true;
  }
  if (!!root.ignoreUriCase !== !!leaf.ignoreUriCase) return true;
  if (root.port && leaf.port && root.port !== leaf.port) return true;
  if (root.sourceNamespace && leaf.sourceNamespace !== root.sourceNamespace) return true;
  for (const [k, v] of Object.entries(leaf.sourceLabels ?? {})) if (root.sourceLabels?.[k] !== undefined && root.sourceLabels[k] !== v) return true;
  if (root.gateways?.length && leaf.gateways?.length && !leaf.gateways.every((g) => root.gateways!.includes(g))) return true;
  return false;
}

function stringConflict(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (!root || !leaf) return false;
  if (root.regex !== undefined || leaf.regex !== undefined) return true;
  if (root.exact !== undefined) return leaf.exact !== root.exact;
  if (root.prefix !== undefined) {
    const v = leaf.prefix ?? leaf.exact;
    return v === undefined || !v.startsWith(root.prefix);
  }
  return true;
}
