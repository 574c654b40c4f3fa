/** ClusterLoadAssignments: the ready endpoints of a service port whose labels match the subset. */
import type { ConfigSnapshot } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import { labelsMatch } from '../registry/services.js';
import type { ResolvedDestination } from './destinations.js';
import type { NamedResource } from './types.js';

type Obj = Record<string, unknown>;

function localityObject(l: string): Obj {
  const [region, zone, subZone] = l.split('/');
  return { ...(region ? { region } : {}), ...(zone ? { zone } : {}), ...(subZone ? { subZone } : {}) };
}

export function buildLoadAssignment(snapshot: ConfigSnapshot, proxy: ProxyInfo, d: ResolvedDestination): NamedResource {
  const svc = d.service;
  const dr = svc ? snapshot.destinationRuleFor(d.host, proxy.namespace, svc.namespace) : undefined;
  const subsetLabels = d.subset ? dr?.spec.subsets?.find((s) => s.name === d.subset)?.labels : undefined;
  // A subset that no DestinationRule defines selects nothing (Envoy answers 503, as with Istio).
  const subsetKnown = !d.subset || dr?.spec.subsets?.some((s) => s.name === d.subset);
  const portName = d.servicePort?.name;
  const byLocality = new Map<string, Obj[]>();
  if (svc && d.servicePort && subsetKnown) {
    for (const e of svc.endpoints) {
      if (!e.ready || !labelsMatch(subsetLabels, e.labels)) continue;
      const port = (portName !== undefined ? e.ports[portName] : undefined) ?? d.servicePort.targetPort ?? d.servicePort.port;
      const list = byLocality.get(e.locality) ?? [];
      list.push({
        endpoint: { address: e.address.startsWith('unix://') ? { pipe: { path: e.address.slice(7) } } : { socketAddress: { address: e.address, portValue: port } } },
        healthStatus: 'HEALTHY',
        loadBalancingWeight: { value: e.weight },
      });
      byLocality.set(e.locality, list);
    }
  }
  const endpoints = [...byLocality.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([loc, lbEndpoints]) => ({
    ...(loc ? { locality: localityObject(loc) } : {}),
    lbEndpoints,
    loadBalancingWeight: { value: lbEndpoints.reduce((n, e) => n + ((e.loadBalancingWeight as { value: number }).value), 0) },
  }));
  return { name: d.clusterName, value: { clusterName: d.clusterName, endpoints } };
}
