import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VirtualService } from '../../../src/api/index.js';
import { resolveDestination } from '../../../src/translator/destinations.js';
import { exposedHosts, serverHostFor, sniHostsFor } from '../../../src/translator/host-matching.js';
import { objects, service, snapshot } from './fixtures.js';

function vs(namespace: string, hosts: string[]): VirtualService {
  return objects(`apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v, namespace: ${namespace}}\nspec:\n  hosts: ${JSON.stringify(hosts)}\n  gateways: [gw/g]\n  http: [{route: [{destination: {host: x}}]}]`)[0] as VirtualService;
}

describe('server host namespace scoping', () => {
  const cases: Array<[string, string, string, string | undefined]> = [
    // [server host, gateway ns, VS ns, expected host part]
    ['a.com', 'gw', 'apps', 'a.com'],
    ['*/a.com', 'gw', 'apps', 'a.com'],
    ['apps/a.com', 'gw', 'apps', 'a.com'],
    ['other/a.com', 'gw', 'apps', undefined],
    ['./a.com', 'gw', 'gw', 'a.com'],
    ['./a.com', 'gw', 'apps', undefined],
    ['apps/*', 'gw', 'apps', '*'],
  ];
  for (const [sh, gwNs, vsNs, want] of cases) {
    it(`${sh} (gateway ${gwNs}) for a VirtualService in ${vsNs} → ${want}`, () => assert.equal(serverHostFor(sh, gwNs, vsNs), want));
  }
});

describe('gateway host intersection', () => {
  const cases: Array<{ server: string[]; vsNs?: string; vsHosts: string[]; want: string[] }> = [
    { server: ['*'], vsHosts: ['a.example.com', 'b.example.com'], want: ['a.example.com', 'b.example.com'] },
    { server: ['a.example.com'], vsHosts: ['a.example.com', 'b.example.com'], want: ['a.example.com'] },
    { server: ['*.example.com'], vsHosts: ['a.example.com', 'x.other.com'], want: ['a.example.com'] },
    // The more specific of two overlapping hosts wins, either way round.
    { server: ['a.example.com', 'b.example.com'], vsHosts: ['*.example.com'], want: ['a.example.com', 'b.example.com'] },
    { server: ['*.example.com'], vsHosts: ['*.api.example.com'], want: ['*.api.example.com'] },
    { server: ['*.example.com'], vsHosts: ['*'], want: ['*.example.com'] },
    { server: ['example.com'], vsHosts: ['*.example.com'], want: [] },
    // Namespace-scoped server hosts only admit VirtualServices of that namespace.
    { server: ['apps/a.example.com'], vsNs: 'apps', vsHosts: ['a.example.com'], want: ['a.example.com'] },
    { server: ['apps/a.example.com'], vsNs: 'default', vsHosts: ['a.example.com'], want: [] },
    { server: ['./*'], vsNs: 'gw', vsHosts: ['a.example.com'], want: ['a.example.com'] },
    // VirtualService short names are qualified in the VirtualService's namespace.
    { server: ['*'], vsNs: 'apps', vsHosts: ['reviews'], want: ['reviews.apps.svc.cluster.local'] },
    { server: ['*.svc.cluster.local'], vsNs: 'apps', vsHosts: ['reviews'], want: ['reviews.apps.svc.cluster.local'] },
    // Case-insensitive.
    { server: ['A.Example.com'], vsHosts: ['a.EXAMPLE.com'], want: ['a.example.com'] },
  ];
  for (const c of cases) {
    it(`server ${c.server} ∩ ${c.vsNs ?? 'default'}/${c.vsHosts} = ${c.want}`, () => {
      assert.deepEqual(exposedHosts(c.server, 'gw', vs(c.vsNs ?? 'default', c.vsHosts), 'cluster.local'), c.want);
    });
  }
});

describe('SNI hosts of a TLS server', () => {
  const tls = (hosts: string[]) => ({ port: { number: 443, protocol: 'HTTPS', name: 'https' }, hosts });
  it('strips namespaces, dedupes and sorts', () => assert.deepEqual(sniHostsFor(tls(['ns/b.com', 'a.com', '*/b.com'])), ['a.com', 'b.com']));
  it('keeps wildcard domains', () => assert.deepEqual(sniHostsFor(tls(['*.example.com'])), ['*.example.com']));
  it('matches everything (no server names) when a host is "*"', () => assert.deepEqual(sniHostsFor(tls(['a.com', '*'])), []));
});

describe('destination resolution', () => {
  const snap = snapshot([
    service('reviews', 'default', [{ name: 'http', port: 9080 }]),
    service('multi', 'default', [{ name: 'http', port: 80 }, { name: 'grpc', port: 9090 }]),
    service('ratings', 'prod', [{ name: 'http', port: 9080 }]),
    'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: default}\nspec:\n  hosts: [api.external.com]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: DNS',
  ].join('\n---\n'));
  const cases: Array<{ what: string; host: string; ns: string; port?: number; subset?: string; listener?: number; want: string }> = [
    { what: 'short name in the VirtualService namespace', host: 'reviews', ns: 'default', want: 'outbound|9080||reviews.default.svc.cluster.local' },
    { what: 'short name resolves against the VS namespace, not the service one', host: 'ratings', ns: 'default', listener: 80, want: 'outbound|80||ratings.default.svc.cluster.local' },
    { what: 'name.namespace is taken as is (not a registry host)', host: 'ratings.prod', ns: 'default', listener: 80, want: 'outbound|80||ratings.prod' },
    { what: 'FQDN', host: 'ratings.prod.svc.cluster.local', ns: 'default', want: 'outbound|9080||ratings.prod.svc.cluster.local' },
    { what: 'ServiceEntry host', host: 'api.external.com', ns: 'default', want: 'outbound|443||api.external.com' },
    { what: 'explicit port', host: 'reviews', ns: 'default', port: 9999, want: 'outbound|9999||reviews.default.svc.cluster.local' },
    { what: 'several ports and none given: the listener port', host: 'multi', ns: 'default', listener: 9090, want: 'outbound|9090||multi.default.svc.cluster.local' },
    { what: 'subset', host: 'reviews', ns: 'default', subset: 'v2', want: 'outbound|9080|v2|reviews.default.svc.cluster.local' },
    { what: 'unknown host: the listener port', host: 'nowhere.example.com', ns: 'default', listener: 8080, want: 'outbound|8080||nowhere.example.com' },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const d = resolveDestination(snap, { host: c.host, ...(c.port ? { port: { number: c.port } } : {}), ...(c.subset ? { subset: c.subset } : {}) }, c.ns, c.listener ?? 80);
      assert.equal(d.clusterName, c.want);
    });
  }
  it('links the registry service and port when known', () => {
    const d = resolveDestination(snap, { host: 'multi', port: { number: 9090 } }, 'default', 80);
    assert.equal(d.service?.name, 'multi');
    assert.equal(d.servicePort?.name, 'grpc');
  });
});
