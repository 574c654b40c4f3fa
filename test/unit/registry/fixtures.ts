/** Builders for registry tests: every object goes through validateResource like a source would. */
import { validateResource, type Resource } from '../../../src/api/index.js';

type Obj = Record<string, unknown>;

export function objs(...docs: unknown[]): Resource[] {
  return docs.map((d) => {
    const r = validateResource(d);
    if (!r.ok) throw new Error(`fixture invalid: ${JSON.stringify(r.errors)}`);
    return r.value;
  });
}

const meta = (name: string, namespace: string, extra: Obj = {}) => ({ name, namespace, ...extra });
const created = (ts?: string) => (ts ? { creationTimestamp: ts } : {});

export const service = (name: string, ns: string, ports: Obj[], spec: Obj = {}, metaExtra: Obj = {}) =>
  ({ apiVersion: 'v1', kind: 'Service', metadata: meta(name, ns, metaExtra), spec: { clusterIP: '10.96.0.10', ports, ...spec } });

export const slice = (name: string, ns: string, svc: string, ports: Obj[], endpoints: Obj[], addressType = 'IPv4') =>
  ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: meta(name, ns, { labels: { 'kubernetes.io/service-name': svc } }), addressType, ports, endpoints });

export const pod = (name: string, ns: string, labels: Record<string, string>, ip?: string, status: Obj = {}) =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: meta(name, ns, { labels }), status: { ...(ip ? { podIP: ip } : {}), ...status } });

export const serviceEntry = (name: string, ns: string, spec: Obj, ts?: string) =>
  ({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: meta(name, ns, created(ts)), spec });

export const destinationRule = (name: string, ns: string, host: string, spec: Obj = {}, ts?: string) =>
  ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta(name, ns, created(ts)), spec: { host, ...spec } });

export const virtualService = (name: string, ns: string, spec: Obj, ts?: string) =>
  ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta(name, ns, created(ts)), spec });

export const gatewayVs = (name: string, ns: string, gateways: string[], ts?: string, extra: Obj = {}) =>
  virtualService(name, ns, { hosts: ['a.example.com'], gateways, http: [{ route: [{ destination: { host: 'x' } }] }], ...extra }, ts);

export const gateway = (name: string, ns: string, selector: Record<string, string> | undefined, ts?: string) =>
  ({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: meta(name, ns, created(ts)),
    spec: { ...(selector ? { selector } : {}), servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] } });

export const secret = (name: string, ns: string, fields: { data?: Record<string, string>; stringData?: Record<string, string>; type?: string }) =>
  ({ apiVersion: 'v1', kind: 'Secret', metadata: meta(name, ns), ...(fields.type ? { type: fields.type } : {}), ...(fields.data ? { data: fields.data } : {}), ...(fields.stringData ? { stringData: fields.stringData } : {}) });

export const b64 = (s: string) => Buffer.from(s).toString('base64');
