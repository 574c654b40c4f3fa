/**
 * ClusterLoadAssignments: the ready endpoints of a service whose labels match the subset's labels,
 * grouped by locality, each on its target port (the endpoint's port for the service port name).
 * No match (or a subset no DestinationRule defines) gives an empty assignment: Envoy answers 503.
 * With a proxy, locality load balancing (weights / failover priorities) is applied for it.
 */
import type { DestinationRule, LocalityLoadBalancerSetting } from '../api/index.js';
import type { ProxyInfo } from '../proxy/node.js';
import { labelsMatch } from '../registry/services.js';
import { applyLocalityLb, type LocalityGroup } from './locality-lb.js';
import type { ResolvedDestination } from './destinations.js';
import type { NamedResource } from './types.js';
import { compareStrings } from './ordering.js';

type Obj = Record<string, unknown>;

function localityObject(l: string): Obj {
  const [region, zone, subZone] = l.split('/');
  return { ...(region ? { region } : {}), ...(zone ? { zone } : {}), ...(subZone ? { subZone } : {}) };
}

export interface LocalityContext {
  proxy: ProxyInfo;
  setting: LocalityLoadBalancerSetting | undefined;
  /** Whether the cluster has outlier detection (failover needs it). */
  outlierDetection: boolean;
}

export function buildLoadAssignment(d: ResolvedDestination, dr: DestinationRule | undefined, locality?: LocalityContext): NamedResource {
  const svc = d.service;
  const subset = d.subset ? dr?.spec.subsets?.find((s) => s.name === d.subset) : undefined;
  const byLocality = new Map<string, Obj[]>();
  const labelsByLocality = new Map<string, Array<Readonly<Record<string, string>>>>();
  if (svc && d.servicePort && (!d.subset || subset)) {
    const sp = d.servicePort;
    for (const e of svc.endpoints) {
      if (!e.ready || !labelsMatch(subset?.labels, e.labels)) continue;
      const port = e.ports[sp.name] ?? sp.targetPort ?? sp.port;
      const list = byLocality.get(e.locality) ?? [];
      const labels = labelsByLocality.get(e.locality) ?? [];
      labels.push(e.labels);
      labelsByLocality.set(e.locality, labels);
      list.push({
        endpoint: { address: e.address.startsWith('unix://') ? { pipe: { path: e.address.slice(7) } } : { socketAddress: { address: e.address, portValue: port } } },
        healthStatus: 'HEALTHY',
        loadBalancingWeight: { value: e.weight },
      });
      byLocality.set(e.locality, list);
    }
  }
  let groups: LocalityGroup[] = [...byLocality.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([loc, lbEndpoints]) => ({
    locality: loc,
    lbEndpoints,
    endpointLabels: labelsByLocality.get(loc) ?? [],
    weight: lbEndpoints.reduce((n, e) => n + (e.loadBalancingWeight as { value: number }).value, 0),
  }));
  if (locality) groups = applyLocalityLb(groups, locality.proxy, locality.setting, locality.outlierDetection);
  const endpoints = groups.map((g) => ({
    ...(g.locality ? { locality: localityObject(g.locality) } : {}),
    lbEndpoints: g.lbEndpoints,
    loadBalancingWeight: { value: g.weight },
    ...(g.priority ? { priority: g.priority } : {}),
  }));
  return { name: d.clusterName, value: { clusterName: d.clusterName, endpoints } };
}
