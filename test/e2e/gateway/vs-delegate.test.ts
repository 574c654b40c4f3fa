/**
 * VirtualService delegation, merging of several VirtualServices for one host, and exportTo on a
 * gateway — through a real gateway Envoy, checking which backend answered and what the client got.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn, serviceWithBackends, subsetsRule, who } from './fixture.js';

type Obj = Record<string, unknown>;

/** The same service documents in another namespace. */
function inNamespace(docs: unknown[], ns: string): unknown[] {
  return docs.map((d) => JSON.parse(JSON.stringify(d).replaceAll('"namespace":"default"', `"namespace":"${ns}"`)) as unknown);
}

function vs(name: string, namespace: string, spec: Obj, created?: string): Obj {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace, ...(created ? { creationTimestamp: created } : {}) }, spec };
}

const reviewsV = (subset: string, extra: Obj = {}) => ({ route: [{ destination: { host: 'reviews.default.svc.cluster.local', subset } }], ...extra });

function delegateRoutes(v2Subset: string): Obj {
  return vs('reviews-routes', 'default', {
    http: [
      { name: 'v2', match: [{ uri: { prefix: '/reviews/v2' } }], ...reviewsV(v2Subset) },
      // Outside the root rule's /reviews match: dropped, and reported.
      { name: 'outside', match: [{ uri: { prefix: '/other' } }], ...reviewsV('v2') },
      // No match: takes the root's; its own response headers replace the root's.
      { name: 'rest', ...reviewsV('v1', { headers: { response: { set: { 'x-leaf': 'v1' } } } }) },
    ],
  });
}

describe('VirtualService delegate, merging and exportTo on a gateway', () => {
  const cfg = new ConfigDir();
  const backends: Record<string, EchoBackend> = {};
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;

  before(async () => {
    for (const n of ['reviews-v1', 'reviews-v2', 'ratings-default', 'ratings-team']) backends[n] = await startEchoBackend(n, '127.0.0.1', 0);
    port = await freePort();
    cfg.write('services.yaml', [
      ...serviceWithBackends('reviews', [{ backend: backends['reviews-v1'], labels: { version: 'v1' } }, { backend: backends['reviews-v2'], labels: { version: 'v2' } }]),
      subsetsRule('reviews', ['v1', 'v2']),
      ...serviceWithBackends('ratings', [{ backend: backends['ratings-default'], labels: {} }]),
      ...inNamespace(serviceWithBackends('ratings', [{ backend: backends['ratings-team'], labels: {} }]), 'team'),
    ]);
    cfg.write('gateway.yaml', [{
      apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'public', namespace: 'default' },
      spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*/*.example.com'] }] },
    }]);
    cfg.write('delegation.yaml', [
      vs('root', 'default', {
        hosts: ['root.example.com'], gateways: ['public'],
        http: [
          { name: 'reviews', match: [{ uri: { prefix: '/reviews' } }], delegate: { name: 'reviews-routes' }, headers: { response: { set: { 'x-root': 'yes' } } } },
          { name: 'ratings', match: [{ uri: { prefix: '/ratings' } }], delegate: { name: 'ratings-routes', namespace: 'team' } },
          { name: 'gone', match: [{ uri: { prefix: '/gone' } }], delegate: { name: 'missing' } },
          { name: 'private', match: [{ uri: { prefix: '/private' } }], delegate: { name: 'private-routes', namespace: 'team' } },
          { name: 'default', route: [{ destination: { host: 'ratings' } }] },
        ],
      }),
      delegateRoutes('v2'),
      // Short host names in a delegate resolve in the delegate's namespace (team), not the root's.
      vs('ratings-routes', 'team', {
        exportTo: ['*'],
        http: [
          { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'ratings' }, headers: { response: { set: { 'x-jason': '1' } } } }] },
          { route: [{ destination: { host: 'ratings' } }] },
        ],
      }),
      vs('private-routes', 'team', { exportTo: ['.'], http: [{ route: [{ destination: { host: 'ratings' } }] }] }),
    ]);
    cfg.write('merge.yaml', [
      vs('older', 'default', { hosts: ['merge.example.com'], gateways: ['public'], http: [
        { match: [{ uri: { prefix: '/a' } }], ...reviewsV('v1') },
        reviewsV('v1'),
      ] }, '2026-01-01T00:00:00Z'),
      vs('newer', 'default', { hosts: ['merge.example.com'], gateways: ['public'], http: [
        { match: [{ uri: { prefix: '/a' } }], ...reviewsV('v2') },
        { match: [{ uri: { prefix: '/b' } }], ...reviewsV('v2') },
        reviewsV('v2'),
      ] }, '2026-02-01T00:00:00Z'),
    ]);
    cfg.write('export.yaml', [
      vs('team-private', 'team', { hosts: ['private.example.com'], gateways: ['default/public'], exportTo: ['.'], http: [{ route: [{ destination: { host: 'ratings' } }] }] }),
      vs('team-public', 'team', { hosts: ['public.example.com'], gateways: ['default/public'], exportTo: ['*'], http: [{ route: [{ destination: { host: 'ratings' } }] }] }),
      vs('team-to-gw', 'team', { hosts: ['gwns.example.com'], gateways: ['default/public'], exportTo: ['istio-system'], http: [{ route: [{ destination: { host: 'ratings' } }] }] }),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await who(port, 'root.example.com', {}, '/reviews/v2')) === 'reviews-v2', 'delegated routes served', 20_000);
  });

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    await Promise.all(Object.values(backends).map((b) => b.close()));
    cfg.remove();
  });

  it("delegate rules narrow the root's match and inherit the policies they leave unset", async () => {
    const v2 = await get(port, '/reviews/v2/x', { host: 'root.example.com' });
    assert.equal((JSON.parse(v2.body) as { name: string }).name, 'reviews-v2');
    assert.equal(v2.headers['x-root'], 'yes', "the root's response headers apply where the delegate sets none");
    const rest = await get(port, '/reviews/other', { host: 'root.example.com' });
    assert.equal((JSON.parse(rest.body) as { name: string }).name, 'reviews-v1');
    assert.equal(rest.headers['x-leaf'], 'v1');
    assert.equal(rest.headers['x-root'], undefined, "the delegate's own headers replace the root's");
    // The delegate's /other rule lies outside the root's /reviews match: ignored, so /other falls to the root's default.
    assert.equal(await who(port, 'root.example.com', {}, '/other'), 'ratings-default');
    await mp.waitForLog((e) => String(e.msg).includes('VirtualService default/reviews-routes whose spec.http[1] matches outside the root rule'));
  });

  it("a delegate's short host names resolve in its own namespace; its header matches apply", async () => {
    assert.equal(await who(port, 'root.example.com', {}, '/ratings'), 'ratings-team');
    const jason = await get(port, '/ratings', { host: 'root.example.com', 'end-user': 'jason' });
    assert.equal((JSON.parse(jason.body) as { name: string }).name, 'ratings-team');
    assert.equal(jason.headers['x-jason'], '1');
  });

  it('a missing delegate, or one not exported to the root namespace, drops that root rule only (reported)', async () => {
    assert.equal(await who(port, 'root.example.com', {}, '/gone'), 'ratings-default');
    assert.equal(await who(port, 'root.example.com', {}, '/private'), 'ratings-default');
    await mp.waitForLog((e) => String(e.msg).includes('spec.http[2].delegate: VirtualService default/missing not found'));
    await mp.waitForLog((e) => String(e.msg).includes('VirtualService team/private-routes is not exported to namespace default'));
  });

  it('a change to a delegate reaches the root routes', async () => {
    cfg.write('delegate-change.yaml', [delegateRoutes('v1')]);
    // The same object now in two files: keep exactly one definition.
    cfg.write('delegation.yaml', [
      vs('root', 'default', {
        hosts: ['root.example.com'], gateways: ['public'],
        http: [
          { name: 'reviews', match: [{ uri: { prefix: '/reviews' } }], delegate: { name: 'reviews-routes' }, headers: { response: { set: { 'x-root': 'yes' } } } },
          { name: 'default', route: [{ destination: { host: 'ratings' } }] },
        ],
      }),
    ]);
    await eventually(async () => (await who(port, 'root.example.com', {}, '/reviews/v2')) === 'reviews-v1', 'delegate change applied');
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
  });

  it('several VirtualServices for one host merge oldest first; shadowed routes are reported, not silently dropped', async () => {
    assert.equal(await who(port, 'merge.example.com', {}, '/a'), 'reviews-v1', "the older VirtualService's /a wins");
    assert.equal(await who(port, 'merge.example.com', {}, '/b'), 'reviews-v2', "the newer one's /b is merged in");
    assert.equal(await who(port, 'merge.example.com', {}, '/c'), 'reviews-v1', "the older catch-all wins; catch-alls go last");
    await mp.waitForLog((e) => String(e.msg).includes('host merge.example.com: VirtualService default/newer route {"prefix":"/a"'));
    await mp.waitForLog((e) => String(e.msg).includes('host merge.example.com: VirtualService default/newer route (catch-all) is shadowed by VirtualService default/older'));
  });

  it("exportTo: a VirtualService private to another namespace does not bind to the gateway; '*' and the gateway's namespace do", async () => {
    assert.equal(await who(port, 'public.example.com'), 'ratings-team');
    assert.equal(await who(port, 'gwns.example.com'), 'ratings-team');
    assert.equal(await who(port, 'private.example.com'), 'HTTP 404');
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
  });
});
