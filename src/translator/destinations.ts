/**
 * Resolving a VirtualService destination to the cluster that serves it, with Istio's naming
 * outbound|PORT|SUBSET|FQDN. The cluster may not exist (unknown host, port or subset): Envoy then
 * answers 503 NC, as with Istio.
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

/**
 * Istio's port choice: destination.port.number, else the service's only port, else the port the
 * request arrived on (the listener / gateway server port).
 */
export function resolveDestination(snapshot: ConfigSnapshot, dest: Destination, configNamespace: string, listenerPort: number): ResolvedDestination {
  const host = resolveShortName(dest.host, configNamespace, snapshot.mesh.domainSuffix);
  const service = snapshot.serviceByHost(host);
  let port = dest.port?.number;
  if (port === undefined) port = service && service.ports.length === 1 ? service.ports[0].port : listenerPort;
  const subset = dest.subset ?? '';
  return {
    host,
    port,
    subset,
    clusterName: outboundClusterName(port, subset, host),
    service,
    servicePort: service?.ports.find((p) => p.port === port),
  };
}
