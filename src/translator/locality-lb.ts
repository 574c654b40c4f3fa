/**
 * Locality load balancing as Istio applies it to a ClusterLoadAssignment for one proxy:
 * - `distribute`: the first rule whose `from` matches the proxy's locality sets each endpoint
 *   locality's weight (a `to` pattern's weight split over the localities it matches, in proportion
 *   to their own weights); localities no `to` pattern matches get no endpoints.
 * - failover (the default, also when only `failover` is given): only with outlier detection, since
 *   Envoy never leaves priority 0 otherwise. Priority by how much of the proxy's locality an
 *   endpoint locality shares: region/zone/subzone 0, region/zone 1, region 2, none 3; with a
 *   `failover` rule from the proxy's region, other regions than its `to` drop below (4). Priorities
 *   are then renumbered densely from 0.
 * - `failoverPriority` (only with outlier detection): each locality is split by how many of the
 *   listed labels, in order, an endpoint shares with the proxy ("label=value" compares with that
 *   value instead of the proxy's): all → 0, the first mismatch at position j → n − j.
 *   (Istio combines this with `failover` rules when both are given; meshpilot applies
 *   failoverPriority alone then.)
 * - `enabled: false` turns it off; without a rule the mesh default (enabled, no rules) applies.
 *
 * The proxy's locality comes from its workload labels, as Istio's agent derives the node locality
 * (`istio-locality`, else topology.kubernetes.io/region|zone and topology.istio.io/subzone).
 */
import type { LocalityLoadBalancerSetting } from '../api/index.js';
import type { ProxyInfo } from '../proxy/node.js';
import { localityOf } from '../registry/services.js';

type Obj = Record<string, unknown>;

/** One locality group of a ClusterLoadAssignment, before rendering. */
export interface LocalityGroup {
  /** "region/zone/subzone" ('' when unknown). */
  locality: string;
  lbEndpoints: Obj[];
  /** The workload labels of each lbEndpoint (same order), for failoverPriority. */
  endpointLabels?: ReadonlyArray<Readonly<Record<string, string>>>;
  weight: number;
  priority?: number;
}

function split(l: string): [string, string, string] {
  const [r = '', z = '', s = ''] = l.split('/');
  return [r, z, s];
}

export function proxyLocality(proxy: ProxyInfo): string {
  return localityOf({ metadata: { name: proxy.podName, labels: proxy.labels } } as Parameters<typeof localityOf>[0], undefined);
}

/** Istio's LocalityMatch: a "region/zone/subzone" pattern, '*' or a missing part matching anything (the region must be given). */
export function localityMatches(locality: string, pattern: string): boolean {
  const [r, z, s] = split(locality);
  const [pr, pz, ps] = split(pattern);
  return (pr === '*' || pr === r) && (pz === '*' || pz === '' || pz === z) && (ps === '*' || ps === '' || ps === s);
}

function matchPriority(proxy: string, ep: string): number {
  const [r, z, s] = split(proxy);
  const [er, ez, es] = split(ep);
  if (r !== er) return 3;
  if (z !== ez) return 2;
  return s === es ? 0 : 1;
}

function applyDistribute(groups: LocalityGroup[], proxy: string, distribute: NonNullable<LocalityLoadBalancerSetting['distribute']>): LocalityGroup[] {
  const rule = distribute.find((d) => localityMatches(proxy, d.from ?? ''));
  if (!rule) return groups;
  const unmatched = new Set(groups.map((_, i) => i));
  const weights = groups.map((g) => g.weight);
  for (const [pattern, weight] of Object.entries(rule.to ?? {})) {
    const hit = [...unmatched].filter((i) => localityMatches(groups[i].locality, pattern));
    const total = hit.reduce((n, i) => n + groups[i].weight, 0);
    for (const i of hit) {
      unmatched.delete(i);
      const w = Math.ceil((groups[i].weight * weight) / total);
      if (w > 0) weights[i] = w;
    }
  }
  return groups.filter((_, i) => !unmatched.has(i)).map((g) => ({ ...g, weight: weights[groups.indexOf(g)] }));
}

function applyFailover(groups: LocalityGroup[], proxy: string, failover: NonNullable<LocalityLoadBalancerSetting['failover']>): LocalityGroup[] {
  const [region] = split(proxy);
  const raw = groups.map((g) => {
    let p = matchPriority(proxy, g.locality);
    if (p === 3) {
      const rule = failover.find((f) => f.from === region);
      if (rule && split(g.locality)[0] !== rule.to) p = 4;
    }
    return p;
  });
  return dense(groups, raw);
}

function dense(groups: LocalityGroup[], raw: number[]): LocalityGroup[] {
  const order = [...new Set(raw)].sort((a, b) => a - b);
  return groups.map((g, i) => ({ ...g, priority: order.indexOf(raw[i]) }));
}

function applyFailoverPriority(groups: LocalityGroup[], proxyLabels: Readonly<Record<string, string>>, priorities: readonly string[]): LocalityGroup[] {
  const rules = priorities.map((p) => {
    const eq = p.indexOf('=');
    return eq < 0 ? { label: p, value: proxyLabels[p] } : { label: p.slice(0, eq), value: p.slice(eq + 1) };
  });
  const out: LocalityGroup[] = [];
  const raw: number[] = [];
  for (const g of groups) {
    const byPriority = new Map<number, number[]>();
    g.lbEndpoints.forEach((_, i) => {
      const labels = g.endpointLabels?.[i] ?? {};
      const miss = rules.findIndex((r) => r.value !== labels[r.label]);
      const p = miss < 0 ? 0 : rules.length - miss;
      const at = byPriority.get(p) ?? [];
      at.push(i);
      byPriority.set(p, at);
    });
    for (const [p, idx] of [...byPriority.entries()].sort(([a], [b]) => a - b)) {
      const lbEndpoints = idx.map((i) => g.lbEndpoints[i]);
      const weight = lbEndpoints.reduce((n, e) => n + ((e.loadBalancingWeight as { value?: number } | undefined)?.value ?? 1), 0);
      out.push({ locality: g.locality, lbEndpoints, endpointLabels: idx.map((i) => g.endpointLabels?.[i] ?? {}), weight });
      raw.push(p);
    }
  }
  return dense(out, raw);
}

/**
 * The locality groups after the locality LB setting that applies (the DestinationRule's, else the
 * mesh default: enabled). `outlierDetection` says whether the cluster ejects endpoints.
 */
export function applyLocalityLb(groups: LocalityGroup[], proxy: ProxyInfo | undefined, setting: LocalityLoadBalancerSetting | undefined, outlierDetection: boolean): LocalityGroup[] {
  if (!proxy || setting?.enabled === false) return groups;
  const here = proxyLocality(proxy);
  if (setting?.distribute?.length) return applyDistribute(groups, here, setting.distribute);
  if (!outlierDetection) return groups;
  if (setting?.failoverPriority?.length) return applyFailoverPriority(groups, proxy.labels, setting.failoverPriority);
  return applyFailover(groups, here, setting?.failover ?? []);
}

/** Whether the cluster needs Envoy's locality-weighted LB (a distribute rule applies). */
export function usesLocalityWeights(proxy: ProxyInfo | undefined, setting: LocalityLoadBalancerSetting | undefined): boolean {
  if (!proxy || setting?.enabled === false || !setting?.distribute?.length) return false;
  const here = proxyLocality(proxy);
  return setting.distribute.some((d) => localityMatches(here, d.from ?? ''));
}
