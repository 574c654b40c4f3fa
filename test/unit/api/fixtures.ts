/** Fixture builders for validation tables: a valid object of each kind, tweakable by a patch function. */
type Obj = Record<string, unknown>;

const base = (kind: string, spec: Obj): Obj => ({ apiVersion: 'networking.istio.io/v1', kind, metadata: { name: 'x', namespace: 'default' }, spec });

export function virtualService(patch: (spec: Obj) => void = () => {}): Obj {
  const spec: Obj = { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] };
  patch(spec);
  return base('VirtualService', spec);
}

export function destinationRule(patch: (spec: Obj) => void = () => {}): Obj {
  const spec: Obj = { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }] };
  patch(spec);
  return base('DestinationRule', spec);
}

export function gateway(patch: (spec: Obj) => void = () => {}): Obj {
  const spec: Obj = { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] };
  patch(spec);
  return base('Gateway', spec);
}

export function serviceEntry(patch: (spec: Obj) => void = () => {}): Obj {
  const spec: Obj = { hosts: ['api.example.com'], ports: [{ number: 443, name: 'https', protocol: 'TLS' }], resolution: 'DNS', location: 'MESH_EXTERNAL' };
  patch(spec);
  return base('ServiceEntry', spec);
}

export function sidecar(patch: (spec: Obj) => void = () => {}): Obj {
  const spec: Obj = { egress: [{ hosts: ['./*', 'istio-system/*'] }] };
  patch(spec);
  return base('Sidecar', spec);
}

/** The first HTTP route of a VirtualService spec. */
export function http0(spec: Obj): Obj {
  return (spec.http as Obj[])[0];
}
