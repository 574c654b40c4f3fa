/**
 * Delta xDS with a real Envoy: a gateway bootstrapped by `meshpilot bootstrap --delta` gets its
 * whole configuration over DeltaAggregatedResources from a running meshpilot, routes real
 * traffic, and follows a live weight change, a route change and an endpoint change — never a NACK.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startBackends, stopBackends, type Backend } from '../../helpers/backends.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_NODE, nacksIn, who } from '../gateway/fixture.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

interface Syncz { id: string; protocol?: string; types: Record<string, { lastNack?: unknown; versionSent?: string; versionAcked?: string }> }

const serviceEntry = (name: string, b: Backend) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'default' },
  spec: { hosts: [`${name}.test.internal`], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: b.host, ports: { http: b.port } }] },
});
const dest = (name: string, weight: number) => ({ destination: { host: `${name}.test.internal`, port: { number: 80 } }, weight });
const routes = (http: unknown[]) => [{ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' }, spec: { hosts: ['web.example.com'], gateways: ['gw'], http } }];

describe('Delta xDS with a real Envoy gateway', () => {
  const cfg = new ConfigDir();
  let backends: Backend[];
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;
  const ask = (headers: Record<string, string> = {}) => who(port, 'web.example.com', headers);
  const syncz = () => mp.getJson<Syncz[]>('/debug/syncz');

  before(async () => {
    backends = await startBackends(['a', 'b', 'c']);
    port = await freePort();
    cfg.write('base.yaml', [serviceEntry('a', backends[0]), serviceEntry('b', backends[1]),
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } }]);
    cfg.write('routes.yaml', routes([{ route: [dest('a', 100)] }]));
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    const adminPort = await freePort();
    const r = spawnSync(process.execPath, [MAIN, 'bootstrap', '--delta', '--node-id', GATEWAY_NODE, '--label', 'istio=ingressgateway', '--xds-address', mp.xdsAddress, '--admin-address', `127.0.0.1:${adminPort}`], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const bootstrap = JSON.parse(r.stdout) as { dynamic_resources: { ads_config: { api_type: string } } };
    assert.equal(bootstrap.dynamic_resources.ads_config.api_type, 'DELTA_GRPC');
    envoy = await startEnvoy({ bootstrap, name: 'delta-gateway' });
  });

  after(async () => {
    try {
      assert.deepEqual(nacksIn(await syncz()), [], 'no NACK');
    } finally {
      await envoy?.stop();
      await mp?.stop();
      await stopBackends(backends);
      cfg.remove();
    }
  });

  it('serves the gateway over Delta ADS; traffic reaches the backend; every type ACKed', async () => {
    await envoy.waitReady(30_000);
    await eventually(async () => (await ask()) === 'a', 'traffic to a', 20_000);
    backends[0].resetHits();
    for (let i = 0; i < 10; i++) assert.equal(await ask(), 'a');
    assert.equal(backends[0].hits(), 10);
    const st = await syncz();
    assert.equal(st.length, 1);
    assert.equal(st[0].protocol, 'delta', 'the stream is Delta');
    for (const kind of ['clusters', 'endpoints', 'listeners', 'routes']) {
      assert.ok(st[0].types[kind], `${kind} subscribed`);
      assert.equal(st[0].types[kind].versionAcked, st[0].types[kind].versionSent, `${kind} in sync`);
    }
    // Envoy's own view: its delta subscriptions took the updates and rejected none.
    const stats = await envoy.stats('update_rejected');
    assert.deepEqual(Object.entries(stats).filter(([, v]) => v > 0), [], 'Envoy rejected no update');
  });

  it('follows a live weight change (20/80, 200 requests within tolerance)', async () => {
    cfg.write('routes.yaml', routes([{ route: [dest('a', 20), dest('b', 80)] }]));
    await eventually(async () => (await ask()) === 'b', 'b answers', 20_000);
    const n = 200;
    let b = 0;
    for (let i = 0; i < n; i++) if ((await ask()) === 'b') b++;
    // 80% of 200: standard deviation ~5.7; allow ±4.5 sd.
    assert.ok(b >= 134 && b <= 186, `b got ${b}/${n}`);
  });

  it('follows a route change (header match) and an endpoint change', async () => {
    cfg.write('routes.yaml', routes([{ match: [{ headers: { 'x-canary': { exact: '1' } } }], route: [dest('b', 100)] }, { route: [dest('a', 100)] }]));
    // Converged = 8 plain requests in a row to a (under the old 20/80 split: probability 0.2^8).
    const allA = async () => { for (let i = 0; i < 8; i++) if ((await ask()) !== 'a') return false; return true; };
    await eventually(async () => (await allA()) && (await ask({ 'x-canary': '1' })) === 'b', 'header route', 20_000);
    for (let i = 0; i < 10; i++) {
      assert.equal(await ask(), 'a');
      assert.equal(await ask({ 'x-canary': '1' }), 'b');
    }
    // Service a's endpoint moves to backend c: only its ClusterLoadAssignment changes.
    cfg.write('base.yaml', [serviceEntry('a', backends[2]), serviceEntry('b', backends[1]),
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } }]);
    await eventually(async () => (await ask()) === 'c', 'a moved to c', 20_000);
    for (let i = 0; i < 10; i++) assert.equal(await ask(), 'c');
    assert.equal(await ask({ 'x-canary': '1' }), 'b');
    await eventually(async () => {
      const st = await syncz();
      return Object.values(st[0].types).every((t) => t.versionAcked === t.versionSent);
    }, 'every type ACKed', 10_000);
  });

  it('meshpilot restarts: Envoy reconnects with initial_resource_versions, nothing is resent, traffic never stops, changes still arrive', async () => {
    const xdsAddress = mp.xdsAddress;
    await mp.stop();
    // While meshpilot is down the gateway keeps serving its last configuration.
    for (let i = 0; i < 5; i++) assert.equal(await ask(), 'c');
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50, xdsAddress });
    await eventually(async () => (await syncz()).length === 1 && Object.keys((await syncz())[0].types).length >= 4, 'Envoy reconnected', 30_000);
    await eventually(async () => Object.values((await syncz())[0].types).every((t) => t.versionAcked === t.versionSent), 'in sync again', 10_000);
    const sent = mp.events((e) => e.msg === 'sent (delta)');
    assert.ok(sent.length >= 4, 'each type answered');
    assert.deepEqual(sent.filter((e) => e.updated !== 0 || e.removed !== 0).map((e) => [e.kind, e.updated, e.removed]), [], 'the proxy already had every resource at its version: nothing resent');
    for (let i = 0; i < 10; i++) assert.equal(await ask(), 'c');
    cfg.write('routes.yaml', routes([{ route: [dest('b', 100)] }]));
    await eventually(async () => (await ask()) === 'b', 'a change after the restart arrives', 20_000);
  });
});
