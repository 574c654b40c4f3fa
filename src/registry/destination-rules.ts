/**
 * DestinationRule lookup with Istio's rules:
 * - Rules are taken in Istio's order (workloadSelector first, then oldest first), hosts resolved to
 *   FQDNs in the rule's namespace.
 * - Rules for the same host in the same namespace are merged when their exportTo sets are equal
 *   (and neither or both have the same workloadSelector): subsets are concatenated (first
 *   definition of a subset name wins), the top-level trafficPolicy is the first one set. The merged
 *   rule keeps the oldest rule's metadata.
 * - Lookup for (host, client namespace): the client namespace's own rules (any exportTo that
 *   includes it; for a client in the root namespace only the root's private rules), else the rules
 *   the service's namespace exports to the client, else those the root namespace exports to it.
 *   Within a namespace the most specific host wins (exact, then longest wildcard); exportTo is
 *   checked after that choice, as Istio does.
 * - Among the rules for the chosen host, a rule with a workloadSelector applies only to matching
 *   workloads of its own namespace; otherwise the last rule without a selector applies.
 */
import type { DestinationRule } from '../api/index.js';
import { resolveShortName } from './hosts.js';
import { compareByCreation, compareStrings } from './ordering.js';
import { labelsMatch } from './services.js';

type Labels = Readonly<Record<string, string>>;

interface ConsolidatedRule {
  rule: DestinationRule;
  /** Raw exportTo values ('.', '*', '~' or namespaces); empty = the default ('*'). */
  exportTo: ReadonlySet<string>;
  selector?: Labels;
}

class HostRules {
  readonly specific = new Map<string, ConsolidatedRule[]>();
  readonly wildcard = new Map<string, ConsolidatedRule[]>();
  private wildcardByLength?: string[];

  listFor(host: string): ConsolidatedRule[] {
    const m = host.startsWith('*') ? this.wildcard : this.specific;
    let list = m.get(host);
    if (!list) {
      list = [];
      m.set(host, list);
      this.wildcardByLength = undefined;
    }
    return list;
  }

  /** Istio's MostSpecificHostMatch: exact first, then the longest wildcard whose suffix matches. */
  mostSpecific(needle: string): ConsolidatedRule[] | undefined {
    const exact = (needle.startsWith('*') ? this.wildcard : this.specific).get(needle);
    if (exact) return exact;
    const suffixOf = needle.startsWith('*') ? needle.slice(1) : needle;
    this.wildcardByLength ??= [...this.wildcard.keys()].sort((a, b) => b.length - a.length || compareStrings(a, b));
    for (const w of this.wildcardByLength) if (suffixOf.endsWith(w.slice(1))) return this.wildcard.get(w);
    return undefined;
  }
}

function selectorOf(dr: DestinationRule): Labels | undefined {
  const sel = dr.spec.workloadSelector;
  return sel ? { ...(sel.labels ?? {}), ...(sel.matchLabels ?? {}) } : undefined;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

function isSuperset(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return [...b].every((x) => a.has(x));
}

/** A copy of `into` with the subsets `from` adds and its trafficPolicy when `into` has none. */
function mergedRule(into: DestinationRule, from: DestinationRule): DestinationRule {
  const names = new Set((into.spec.subsets ?? []).map((s) => s.name));
  const added = (from.spec.subsets ?? []).filter((s) => !names.has(s.name));
  const trafficPolicy = into.spec.trafficPolicy ?? from.spec.trafficPolicy;
  return {
    ...into,
    spec: {
      ...into.spec,
      ...(into.spec.subsets || added.length ? { subsets: [...(into.spec.subsets ?? []), ...added] } : {}),
      ...(trafficPolicy ? { trafficPolicy } : {}),
    },
  };
}

/** Istio's mergeDestinationRule (enhanced merge on): merge into compatible entries, else append. */
function addRule(rules: HostRules, host: string, dr: DestinationRule, exportTo: ReadonlySet<string>): void {
  const list = rules.listFor(host);
  const selector = selectorOf(dr);
  let appendSeparately = true;
  for (const entry of list) {
    if (sameSet(exportTo, entry.exportTo)) appendSeparately = false;
    else if (entry.exportTo.size > 0 && isSuperset(exportTo, entry.exportTo)) appendSeparately = true;
    else { appendSeparately = true; continue; }
    const bothWith = !!selector && !!entry.selector;
    const bothWithout = !selector && !entry.selector;
    if (bothWith && !sameLabels(selector, entry.selector!)) { appendSeparately = true; continue; }
    if (bothWithout || bothWith) appendSeparately = false;
    entry.rule = mergedRule(entry.rule, dr);
  }
  if (appendSeparately) list.push({ rule: dr, exportTo, ...(selector ? { selector } : {}) });
}

export interface DestinationRuleQuery {
  hostname: string;
  clientNamespace: string;
  /** The service's namespace, when the caller knows it. */
  serviceNamespace?: string;
  /** Labels of the client workload, for rules with a workloadSelector. */
  workloadLabels?: Labels;
}

export interface DestinationRuleIndex {
  lookup(q: DestinationRuleQuery): DestinationRule | undefined;
}

export function indexDestinationRules(rules: readonly DestinationRule[], opts: { rootNamespace: string; domainSuffix: string }): DestinationRuleIndex {
  const ordered = [...rules].sort((a, b) => Number(!selectorOf(a)) - Number(!selectorOf(b)) || compareByCreation(a, b));
  const namespaceLocal = new Map<string, HostRules>();
  const exported = new Map<string, HostRules>();
  const rootLocal = new HostRules();
  const rulesIn = (m: Map<string, HostRules>, ns: string) => {
    let r = m.get(ns);
    if (!r) m.set(ns, (r = new HostRules()));
    return r;
  };
  for (const dr of ordered) {
    const ns = dr.metadata.namespace;
    const host = resolveShortName(dr.spec.host, ns, opts.domainSuffix);
    // Rules with a workloadSelector are never exported.
    const exportTo: ReadonlySet<string> = selectorOf(dr) ? new Set(['.']) : new Set(dr.spec.exportTo ?? []);
    if (exportTo.size === 0 || exportTo.has('*') || exportTo.has('.') || exportTo.has(ns)) addRule(rulesIn(namespaceLocal, ns), host, dr, exportTo);
    const privateOnly = exportTo.size === 1 && (exportTo.has('.') || exportTo.has(ns));
    if (!privateOnly) addRule(rulesIn(exported, ns), host, dr, exportTo);
    else if (ns === opts.rootNamespace) addRule(rootLocal, host, dr, exportTo);
  }

  const exportedTo = (owner: string, hostname: string, client: string): ConsolidatedRule[] | undefined => {
    const found = exported.get(owner)?.mostSpecific(hostname);
    const visible = found?.filter((e) => e.exportTo.size === 0 || e.exportTo.has('*') || e.exportTo.has(client));
    return visible && visible.length > 0 ? visible : undefined;
  };

  const choose = (list: readonly ConsolidatedRule[], q: DestinationRuleQuery): DestinationRule | undefined => {
    let catchAll: DestinationRule | undefined;
    for (const e of list) {
      if (!e.selector) catchAll = e.rule;
      else if (q.workloadLabels && e.rule.metadata.namespace === q.clientNamespace && labelsMatch(e.selector, q.workloadLabels)) return e.rule;
    }
    return catchAll;
  };

  return {
    lookup(q) {
      const own = q.clientNamespace === opts.rootNamespace ? rootLocal.mostSpecific(q.hostname) : namespaceLocal.get(q.clientNamespace)?.mostSpecific(q.hostname);
      const list = own
        ?? (q.serviceNamespace ? exportedTo(q.serviceNamespace, q.hostname, q.clientNamespace) : undefined)
        ?? exportedTo(opts.rootNamespace, q.hostname, q.clientNamespace);
      return list ? choose(list, q) : undefined;
    },
  };
}
