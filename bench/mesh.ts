/**
 * The synthetic mesh the benchmarks use: N Kubernetes services over 10 namespaces (3 ready
 * endpoints each), one ingress Gateway, and VirtualServices that split R HTTP routes between them.
 * Each VirtualService names a mesh service as its host and is bound to the gateway and to the
 * mesh, so both a sidecar and the gateway compile every route.
 */
import { validateResource, type Resource } from '../src/api/index.js';
import { parseNodeId, type ProxyInfo } from '../src/proxy/node.js';

export const NAMESPACES = 10;

export interface MeshSize {
  services: number;
  virtualServices: number;
  routes: number;
}

export const nsOf = (i: number): string => `ns-${i % NAMESPACES}`;
export const fqdn = (i: number): string => `svc-${i}.${nsOf(i)}.svc.cluster.local`;
const ip = (i: number, j: number): string => `10.${(i >> 8) & 255}.${i & 255}.${j + 10}`;

export function must(doc: unknown): Resource {
  const r = validateResource(doc);
  if (!r.ok) throw new Error(`bench fixture invalid: ${JSON.stringify(r.errors)}`);
  return r.value;
}

/** The EndpointSlice of service i; a non-zero `generation` moves its last endpoint (an endpoint change). */
export function endpointSlice(i: number, generation = 0): Resource {
  return must({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-slice`, namespace: nsOf(i), labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [0, 1, 2].map((j) => ({ addresses: [j === 2 && generation ? `10.200.${(generation >> 8) & 255}.${generation & 255}` : ip(i, j)], conditions: { ready: true } })),
  });
}

export function syntheticMesh(size: MeshSize, routesSalt = 0): Resource[] {
  const objs: Resource[] = [];
  for (let i = 0; i < size.services; i++) {
    objs.push(must({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: nsOf(i) }, spec: { clusterIP: `172.20.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] } }));
    objs.push(endpointSlice(i));
  }
  objs.push(must({
    apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'public', namespace: 'istio-system' },
    spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*/*'] }] },
  }));
  const perVs = Math.max(1, Math.floor(size.routes / size.virtualServices));
  for (let v = 0; v < size.virtualServices; v++) {
    const http = [];
    for (let r = 0; r < perVs; r++) {
      const a = (v * perVs + r) % size.services;
      const b = (a + 1) % size.services;
      http.push({
        name: `r${r}`,
        match: [{ uri: { prefix: `/api/${r}/` }, headers: { 'x-tenant': { exact: `t${(r + routesSalt) % 7}` } } }],
        route: [{ destination: { host: fqdn(a), port: { number: 8080 } }, weight: 90 }, { destination: { host: fqdn(b), port: { number: 8080 } }, weight: 10 }],
      });
    }
    const host = v % size.services;
    objs.push(must({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `vs-${v}`, namespace: nsOf(host) }, spec: { hosts: [fqdn(host)], gateways: ['istio-system/public', 'mesh'], http } }));
  }
  return objs;
}

/**
 * The VirtualService change of the fan-out benchmark: vs-0 of `syntheticMesh`, also bound to
 * `gateway` (the bench Envoys' own Gateway, so they hold its routes too); a non-zero `generation`
 * sets a request header `x-bench-change: bench-change-N` on its first route (one VS rewritten).
 */
export function changingVirtualService(size: MeshSize, gateway: string, generation = 0): Resource {
  const vs = syntheticMesh(size).find((o) => o.kind === 'VirtualService' && (o.metadata as { name: string }).name === 'vs-0');
  if (!vs) throw new Error('bench mesh has no vs-0');
  const doc = structuredClone(vs) as unknown as { spec: { gateways: string[]; http: Array<Record<string, unknown>> } };
  doc.spec.gateways.push(gateway);
  if (generation) doc.spec.http[0].headers = { request: { set: { 'x-bench-change': `bench-change-${generation}` } } };
  return must(doc);
}

/** A Gateway for the bench Envoys (labels istio=bench-envoy): HTTP on 127.0.0.1:`port` (Envoys share it with SO_REUSEPORT). */
export function benchEnvoyGateway(port: number): Resource {
  return must({
    apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'bench-envoys', namespace: 'istio-system' },
    spec: { selector: { istio: 'bench-envoy' }, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*/*'] }] },
  });
}

/** A namespace-scoped Sidecar for ns-0: egress to its own namespace and istio-system only. */
export function scopedSidecar(): Resource {
  return must({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'ns-0' }, spec: { egress: [{ hosts: ['./*', 'istio-system/*'] }] } });
}

function proxy(id: string, labels: Record<string, string>): ProxyInfo {
  const p = parseNodeId(id, { LABELS: labels });
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

export const gatewayProxy = (): ProxyInfo => proxy('router~10.0.0.1~ingressgateway-0.istio-system~istio-system.svc.cluster.local', { istio: 'ingressgateway' });
export const sidecarProxy = (n = 0): ProxyInfo => proxy(`sidecar~10.250.${(n >> 8) & 255}.${n & 255}~app-${n}.${nsOf(n)}~${nsOf(n)}.svc.cluster.local`, { app: 'app' });
