/** The clusters a route sends to and their endpoints, as the proxy was given them. */
import type { XdsResources } from '../translator/types.js';

type Obj = Record<string, unknown>;

export interface ExplainedEndpoint {
  address: string;
  port?: number;
  locality?: string;
  weight: number;
  health: string;
}

export interface ExplainedCluster {
  name: string;
  /** Share of requests (percent) the route sends here. */
  percent: number;
  weight?: number;
  /** Cluster discovery type (EDS, STATIC, STRICT_DNS, ORIGINAL_DST...), undefined when the proxy has no such cluster. */
  type?: string;
  endpoints: ExplainedEndpoint[];
  /** What Envoy does with the request when it cannot be served (no cluster, no endpoint). */
  problem?: string;
}

function endpointsOf(cla: Obj | undefined): ExplainedEndpoint[] {
  const out: ExplainedEndpoint[] = [];
  for (const group of (cla?.endpoints as Obj[] | undefined) ?? []) {
    const loc = group.locality as { region?: string; zone?: string; subZone?: string } | undefined;
    const locality = loc ? [loc.region, loc.zone, loc.subZone].filter(Boolean).join('/') : undefined;
    for (const lb of (group.lbEndpoints as Obj[] | undefined) ?? []) {
      const addr = ((lb.endpoint as Obj | undefined)?.address ?? {}) as { socketAddress?: { address?: string; portValue?: number }; pipe?: { path?: string } };
      out.push({
        address: addr.socketAddress?.address ?? (addr.pipe?.path ? `unix://${addr.pipe.path}` : '?'),
        ...(addr.socketAddress?.portValue !== undefined ? { port: addr.socketAddress.portValue } : {}),
        ...(locality ? { locality } : {}),
        weight: (lb.loadBalancingWeight as { value?: number } | undefined)?.value ?? 1,
        health: String(lb.healthStatus ?? 'UNKNOWN'),
      });
    }
  }
  return out;
}

/** Looks a cluster up in the proxy's resources and lists the endpoints it would pick from. */
export function explainCluster(resources: XdsResources, name: string, percent: number, weight?: number): ExplainedCluster {
  const base = { name, percent, ...(weight !== undefined ? { weight } : {}) };
  const cluster = resources.clusters.find((c) => c.name === name)?.value;
  if (!cluster) return { ...base, endpoints: [], problem: `the proxy has no cluster "${name}": Envoy answers 503 (NC, cluster not found)` };
  const type = String(cluster.type ?? (cluster.clusterType ? 'CUSTOM' : 'STATIC'));
  if (type === 'ORIGINAL_DST') return { ...base, type, endpoints: [], problem: undefined };
  const cla = type === 'EDS' ? resources.endpoints.find((e) => e.name === name)?.value : (cluster.loadAssignment as Obj | undefined);
  const endpoints = endpointsOf(cla);
  const healthy = endpoints.filter((e) => e.health === 'HEALTHY' || e.health === 'UNKNOWN');
  const problem = healthy.length === 0 ? `cluster "${name}" has no healthy endpoint: Envoy answers 503 (UH, no healthy upstream)` : undefined;
  return { ...base, type, endpoints, ...(problem ? { problem } : {}) };
}

/** The clusters of a route action (single cluster or weighted clusters), with their shares. */
export function routeClusters(action: Obj): Array<{ name: string; weight?: number; percent: number }> {
  if (typeof action.cluster === 'string') return [{ name: action.cluster, percent: 100 }];
  // Route weights are UInt32Value ({ value }); tcp_proxy weights are plain numbers.
  const wc = ((action.weightedClusters as { clusters?: Array<{ name: string; weight?: number | { value?: number } }> } | undefined)?.clusters ?? [])
    .map((c) => ({ name: c.name, weight: typeof c.weight === 'number' ? c.weight : (c.weight?.value ?? 0) }));
  const total = wc.reduce((n, c) => n + c.weight, 0);
  return wc.map((c) => ({ ...c, percent: total ? Math.round((c.weight * 10000) / total) / 100 : 0 }));
}
