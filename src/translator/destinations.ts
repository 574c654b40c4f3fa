/**
 * Resolving a VirtualService destination to the cluster that serves it, with Istio's naming:
 * outbound|PORT|SUBSET|FQDN.
 */
import type { Destination } from '../api/index.js';
import { resolveShortName } from '../registry/hosts.js';
import type { ConfigSnapshot, MeshService, ServicePort } from '../registry/model.js';

export interface ResolvedDestination {
  /** FQDN of the destination host. */
  host: string;
  port: number;
  subset: string;
  clusterName: string;
  service?: MeshService;
  servicePort?: ServicePort;
}

export function outboundClusterName(port: number, subset: string, host: string): string {
  return `outbound|${port}|${subset}|${host}`;
}

export function resolveDestination(snapshot: ConfigSnapshot, dest: Destination, configNamespace: string): ResolvedDestination {
  const host = resolveShortName(dest.host, configNamespace, snapshot.mesh.domainSuffix);
  const service = snapshot.serviceByHost(host);
  let port = dest.port?.number;
  if (port === undefined && service && service.ports.length === 1) port = service.ports[0].port;
  const resolvedPort = port ?? 80;
  const subset = dest.subset ?? '';
  return {
    host,
    port: resolvedPort,
    subset,
    clusterName: outboundClusterName(resolvedPort, subset, host),
    service,
    servicePort: service?.ports.find((p) => p.port === resolvedPort),
  };
}
