/** The service model and snapshot indexes: protocols, endpoints with pod labels, ServiceEntries, DestinationRule lookup order, gateway binding. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateResource, type Resource } from '../../../src/api/index.js';
import { hostMatches, intersectHosts, resolveShortName } from '../../../src/registry/hosts.js';
import { protocolOf } from '../../../src/registry/services.js';
import { snapshotFromObjects } from '../../../src/registry/snapshot.js';
import { Registry } from '../../../src/registry/store.js';

function objs(...docs: unknown[]): Resource[] {
  return docs.map((d) => {
    const r = validateResource(d);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.value;
  });
}
const svc = (name: string, ns: string, ports: unknown[], extra: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, ...extra }, spec: { clusterIP: '10.96.0.1', ports } });
const dr = (name: string, ns: string, host: string, spec: Record<string, unknown> = {}) => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: ns }, spec: { host, ...spec } });

describe('protocol selection (appProtocol, then port name prefix)', () => {
  const table: Array<[Parameters<typeof protocolOf>[0], string]> = [
    [{ name: 'http' }, 'HTTP'], [{ name: 'http-web' }, 'HTTP'], [{ name: 'http2' }, 'HTTP2'], [{ name: 'grpc-api' }, 'GRPC'],
    [{ name: 'grpc-web' }, 'GRPC-WEB'], [{ name: 'https' }, 'HTTPS'], [{ name: 'tcp-db' }, 'TCP'], [{ name: 'tls' }, 'TLS'],
    [{ name: 'mongo' }, 'MONGO'], [{ name: 'redis' }, 'REDIS'], [{ name: 'mysql' }, 'MYSQL'], [{ name: 'web' }, 'TCP'], [{}, 'TCP'],
    [{ name: 'web', appProtocol: 'http' }, 'HTTP'], [{ name: 'http', appProtocol: 'grpc' }, 'GRPC'], [{ appProtocol: 'kubernetes.io/h2c' }, 'HTTP2'],
    [{ name: 'http', protocol: 'UDP' }, 'UDP'],
  ];
  for (const [port, want] of table) it(`${JSON.stringify(port)} → ${want}`, () => assert.equal(protocolOf(port), want));
});

describe('host helpers', () => {
  it('qualifies short names in a namespace', () => {
    assert.equal(resolveShortName('reviews', 'prod', 'cluster.local'), 'reviews.prod.svc.cluster.local');
    assert.equal(resolveShortName('api.example.com', 'prod', 'cluster.local'), 'api.example.com');
    assert.equal(resolveShortName('*', 'prod', 'cluster.local'), '*');
  });
  it('matches and intersects wildcards', () => {
    assert.ok(hostMatches('*.example.com', 'a.example.com'));
    assert.ok(!hostMatches('*.example.com', 'example.com'));
    assert.equal(intersectHosts('*', 'a.com'), 'a.com');
    assert.equal(intersectHosts('*.example.com', 'a.example.com'), 'a.example.com');
    assert.equal(intersectHosts('a.com', 'b.com'), undefined);
  });
});

describe('snapshot', () => {
  const base = objs(
    svc('reviews', 'default', [{ name: 'http', port: 9080, targetPort: 9080 }, { name: 'grpc-x', port: 7070 }]),
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'r1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'reviews' } }, addressType: 'IPv4',
      ports: [{ name: 'http', port: 19080 }, { name: 'grpc-x', port: 17070 }],
      endpoints: [
        { addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'reviews-v1', namespace: 'default' }, zone: 'z1' },
        { addresses: ['10.0.0.2'], conditions: { ready: false } },
        { addresses: ['10.0.0.3'], conditions: { ready: true } },
      ] },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'reviews-v1', namespace: 'default', labels: { app: 'reviews', version: 'v1' } } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'reviews-v3', namespace: 'default', labels: { app: 'reviews', version: 'v3' } }, status: { podIP: '10.0.0.3' } },
  );

  it('turns a Service and its EndpointSlices into a service with labelled endpoints', () => {
    const s = snapshotFromObjects(base).serviceByHost('reviews.default.svc.cluster.local')!;
    assert.equal(s.source, 'kubernetes');
    assert.deepEqual(s.ports.map((p) => [p.name, p.port, p.protocol]), [['http', 9080, 'HTTP'], ['grpc-x', 7070, 'GRPC']]);
    assert.deepEqual(s.endpoints.map((e) => [e.address, e.ready, e.labels.version ?? '', e.ports.http, e.ports['grpc-x']]), [
      ['10.0.0.1', true, 'v1', 19080, 17070], ['10.0.0.2', false, '', 19080, 17070], ['10.0.0.3', true, 'v3', 19080, 17070],
    ]);
    assert.equal(s.endpoints[0].locality, '/z1', 'region/zone/subzone, region unknown');
  });

  it('turns a ServiceEntry into one service per host, endpoint ports by name with targetPort fallback', () => {
    const snap = snapshotFromObjects(objs({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'ext', namespace: 'egress' },
      spec: { hosts: ['a.example.com', 'b.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 }], resolution: 'STATIC',
        endpoints: [{ address: '192.0.2.1', labels: { v: '1' } }, { address: '192.0.2.2', ports: { http: 9000 }, weight: 5 }] } }));
    const a = snap.serviceByHost('a.example.com')!;
    assert.equal(snap.serviceByHost('b.example.com')!.name, 'ext');
    assert.equal(a.location, 'MESH_EXTERNAL');
    assert.deepEqual(a.endpoints.map((e) => [e.address, e.ports.http, e.weight]), [['192.0.2.1', 8080, 1], ['192.0.2.2', 9000, 5]]);
  });

  it('Kubernetes wins over a ServiceEntry with the same host', () => {
    const snap = snapshotFromObjects([...base, ...objs({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'shadow', namespace: 'default' },
      spec: { hosts: ['reviews.default.svc.cluster.local'], ports: [{ number: 9080, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' } })]);
    assert.equal(snap.serviceByHost('reviews.default.svc.cluster.local')!.source, 'kubernetes');
  });

  it('looks DestinationRules up in client namespace, then service namespace, then root namespace; exportTo honoured', () => {
    const host = 'reviews.default.svc.cluster.local';
    const rules = objs(
      dr('root', 'istio-system', '*.svc.cluster.local'),
      dr('svc-ns', 'default', 'reviews'),
      dr('client', 'prod', 'reviews.default.svc.cluster.local'),
      dr('hidden', 'team', 'reviews.default.svc.cluster.local', { exportTo: ['.'] }),
    );
    const snap = snapshotFromObjects([...base, ...rules]);
    assert.equal(snap.destinationRuleFor(host, 'prod')!.metadata.name, 'client');
    assert.equal(snap.destinationRuleFor(host, 'other')!.metadata.name, 'svc-ns');
    assert.equal(snap.destinationRuleFor(host, 'team')!.metadata.name, 'hidden');
    assert.equal(snap.destinationRuleFor('ratings.default.svc.cluster.local', 'other')!.metadata.name, 'root');
    const noSvcNs = snapshotFromObjects([...base, ...objs(dr('root', 'istio-system', '*.svc.cluster.local'), dr('hidden', 'default', 'reviews', { exportTo: ['.'] }))]);
    assert.equal(noSvcNs.destinationRuleFor(host, 'other')!.metadata.name, 'root', 'a rule exported only to its namespace is skipped');
  });

  it('binds VirtualServices to gateways by short and namespaced names, oldest first', () => {
    const vs = (name: string, ns: string, gateways: string[], created: string) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: ns, creationTimestamp: created }, spec: { hosts: ['a.com'], gateways, http: [{ route: [{ destination: { host: 'x' } }] }] } });
    const snap = snapshotFromObjects(objs(
      vs('late', 'default', ['gw'], '2026-02-01T00:00:00Z'),
      vs('early', 'other', ['default/gw', 'mesh'], '2026-01-01T00:00:00Z'),
      vs('elsewhere', 'other', ['gw'], '2025-01-01T00:00:00Z'),
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'meshonly', namespace: 'default' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] } },
    ));
    assert.deepEqual(snap.virtualServicesForGateway('default/gw').map((v) => v.metadata.name), ['early', 'late']);
    // Objects without a creation time (file mode) sort before timestamped ones, then by namespace/name.
    assert.deepEqual(snap.meshVirtualServices().map((v) => v.metadata.name), ['meshonly', 'early']);
  });

  it('selects gateways by workload labels and decodes TLS secrets', () => {
    const snap = snapshotFromObjects(objs(
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'in', namespace: 'default' }, spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'eg', namespace: 'default' }, spec: { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] } },
      { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'c', namespace: 'istio-system' }, data: { 'tls.crt': Buffer.from('CRT').toString('base64'), 'tls.key': Buffer.from('KEY').toString('base64') } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'g', namespace: 'istio-system' }, stringData: { cert: 'C2', key: 'K2', cacert: 'CA2' } },
    ));
    assert.deepEqual(snap.gatewaysForWorkload({ istio: 'ingressgateway', app: 'x' }).map((g) => g.metadata.name), ['in']);
    assert.deepEqual(snap.secret('istio-system', 'c'), { namespace: 'istio-system', name: 'c', cert: 'CRT', key: 'KEY', ca: undefined });
    assert.equal(snap.secret('istio-system', 'g')!.ca, 'CA2');
    assert.equal(snap.secret('default', 'c'), undefined);
  });
});

describe('Registry', () => {
  it('bumps a monotonic version per effective change, freezes objects, caches snapshots', () => {
    const reg = new Registry();
    const changes: number[] = [];
    reg.onChange((c) => changes.push(c.version));
    const [s] = objs(svc('a', 'default', [{ name: 'http', port: 80 }]));
    assert.ok(reg.apply({ type: 'add', object: s }));
    assert.equal(reg.apply({ type: 'update', object: s }), false, 'same content is no change');
    const snap1 = reg.snapshot();
    assert.equal(reg.snapshot(), snap1);
    assert.throws(() => { (reg.objects()[0].metadata as { name: string }).name = 'b'; });
    assert.ok(reg.apply({ type: 'delete', object: s }));
    assert.notEqual(reg.snapshot(), snap1);
    assert.deepEqual(changes, [1, 2]);
    assert.equal(reg.snapshot().version, 2);
    assert.equal(reg.snapshot().services.length, 0);
  });
});

describe('proxy labels from the registry', async () => {
  const { translate } = await import('../../../src/translator/index.js');
  const { parseNodeId } = await import('../../../src/proxy/node.js');
  it('a gateway proxy that sends no LABELS is matched by its pod labels', () => {
    const snap = snapshotFromObjects(objs(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'gw-0', namespace: 'istio-system', labels: { istio: 'ingressgateway' } }, status: { podIP: '10.1.1.1' } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'g', namespace: 'istio-system' }, spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] } },
    ));
    const p = parseNodeId('router~10.1.1.1~gw-0.istio-system~istio-system.svc.cluster.local');
    assert.ok(p.ok);
    assert.deepEqual(translate(snap, p.value).listeners.map((l) => l.name), ['0.0.0.0_80']);
  });
});
