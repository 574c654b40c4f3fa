/**
 * The ADS server against a real Envoy, with hand-built resources: config arrives, traffic flows,
 * a change moves traffic, a rejected (NACKed) version is recorded and never resent while the
 * last good configuration keeps serving, and a restarted Envoy gets the same config.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMetrics, type Metrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import type { XdsResources } from '../../../src/translator/types.js';
import { XdsServer } from '../../../src/xds/server.js';
import { startBackend, type Backend } from '../../helpers/backends.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { freePort } from '../../helpers/ports.js';
import { eventually } from '../../helpers/wait.js';
import { who } from '../gateway/fixture.js';

const NODE = 'router~127.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local';

const CLUSTER = 'outbound|80||backend.default.svc.cluster.local';

function resources(listenPort: number, backend: Backend, opts: { badCluster?: boolean } = {}): XdsResources {
  const cluster = CLUSTER;
  return {
    listeners: [{
      name: `0.0.0.0_${listenPort}`,
      value: {
        name: `0.0.0.0_${listenPort}`,
        address: { socketAddress: { address: '127.0.0.1', portValue: listenPort } },
        filterChains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          statPrefix: 'test', rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: 'http.80' },
          httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        } }] }],
      },
    }],
    routes: [{ name: 'http.80', value: { name: 'http.80', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] } }],
    clusters: [{ name: cluster, value: {
      name: cluster, type: 'EDS', connectTimeout: { seconds: 1, nanos: 0 },
      edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: cluster },
      // Envoy's proto validation requires a positive connect timeout: a negative one is NACKed.
      ...(opts.badCluster ? { connectTimeout: { seconds: -5, nanos: 0 } } : {}),
    } }],
    endpoints: [{ name: cluster, value: {
      clusterName: cluster,
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: backend.host, portValue: backend.port } } } }] }],
    } }],
    secrets: [],
  };
}

/** Which backend answered a request to the listener (bounded waits here are 10 s). */
const whoAnswers = (port: number) => who(port, `127.0.0.1:${port}`);
const within = (check: () => Promise<boolean>, what: string) => eventually(check, what, 10_000);

describe('ADS server with a real Envoy', () => {
  let server: XdsServer;
  let metrics: Metrics;
  let envoy: EnvoyProcess | undefined;
  let a: Backend;
  let b: Backend;
  let current: XdsResources;
  let generated = 0;
  let listenPort: number;
  let xdsAddr: string;
  let unixAddr: string;
  let sockDir: string;

  before(async () => {
    a = await startBackend('backend-a');
    b = await startBackend('backend-b');
    listenPort = await freePort();
    current = resources(listenPort, a);
    metrics = createMetrics();
    server = new XdsServer({ generate: () => { generated++; return current; }, logger: silentLogger, metrics, debounceMs: 20 });
    xdsAddr = await server.listen('127.0.0.1:0');
    sockDir = mkdtempSync(join(tmpdir(), 'meshpilot-xds-'));
    unixAddr = await server.listen(`unix://${join(sockDir, 'xds.sock')}`);
    envoy = await startEnvoy({ nodeId: NODE, labels: { istio: 'ingressgateway' }, xdsAddress: xdsAddr });
  });

  after(async () => {
    await envoy?.stop();
    await server.close();
    await a.stop();
    await b.stop();
    rmSync(sockDir, { recursive: true, force: true });
  });

  it('delivers listeners, routes, clusters and endpoints; traffic reaches the backend', async () => {
    await envoy!.waitReady();
    await envoy!.waitForListener(listenPort);
    await within(async () => (await whoAnswers(listenPort)) === 'backend-a', 'traffic to backend-a');
    a.resetHits();
    for (let i = 0; i < 10; i++) assert.equal(await whoAnswers(listenPort), 'backend-a');
    assert.equal(a.hits(), 10);
    assert.equal(b.hits(), 0);
    const st = server.syncStatus();
    assert.equal(st.length, 1);
    assert.equal(st[0].id, NODE);
    for (const kind of ['clusters', 'endpoints', 'listeners', 'routes'] as const) {
      assert.ok(st[0].types[kind]?.versionAcked, `${kind} acked`);
      assert.equal(st[0].types[kind]?.versionAcked, st[0].types[kind]?.versionSent);
      assert.equal(st[0].types[kind]?.lastNack, undefined);
    }
    assert.deepEqual(st[0].types.endpoints?.subscribed, [CLUSTER], 'EDS asked for by name');
    assert.deepEqual(st[0].types.routes?.subscribed, ['http.80'], 'RDS asked for by name');
    assert.equal(st[0].types.clusters?.subscribed, '*', 'CDS is a wildcard subscription');
    assert.deepEqual(server.connectedProxies().map((p) => [p.type, p.namespace, p.labels.istio]), [['router', 'istio-system', 'ingressgateway']]);
    assert.match(await metrics.registry.getSingleMetricAsString('meshpilot_xds_connected_proxies'), / 1$/m);
  });

  it('a push moves traffic to the new endpoint and sends only what changed', async () => {
    current = resources(listenPort, b);
    const pushed = server.nextPush();
    server.requestPush({ reason: 'test' });
    const summary = await pushed;
    assert.deepEqual([summary.affected, summary.proxies, summary.responses], [1, 1, 1], 'only EDS changed');
    await within(async () => (await whoAnswers(listenPort)) === 'backend-b', 'traffic to backend-b');
    b.resetHits();
    for (let i = 0; i < 20; i++) assert.equal(await whoAnswers(listenPort), 'backend-b');
    assert.equal(b.hits(), 20);
  });

  it('a push that affects no connected proxy does not even regenerate', async () => {
    const before = generated;
    const pushed = server.nextPush();
    server.requestPush({ reason: 'elsewhere', affects: (p) => p.namespace === 'other' });
    assert.deepEqual(await pushed, { reason: 'elsewhere', affected: 0, proxies: 0, responses: 0 });
    assert.equal(generated, before);
  });

  it('records a NACK, never resends the rejected version, keeps serving the last good config', async () => {
    const before = server.syncStatus()[0].types.clusters!;
    current = resources(listenPort, b, { badCluster: true });
    server.requestPush({ reason: 'bad' });
    await within(async () => server.syncStatus()[0].types.clusters?.lastNack !== undefined, 'NACK recorded');
    const st = server.syncStatus()[0].types.clusters!;
    assert.equal(st.versionAcked, before.versionAcked, 'last good version stays acked');
    assert.equal(st.lastNack!.version, st.versionSent);
    assert.notEqual(st.lastNack!.version, before.versionAcked);
    assert.match(st.lastNack!.message, /duration/i);
    assert.match(await metrics.registry.getSingleMetricAsString('meshpilot_xds_nacks_total'), /type="clusters"\} 1/);
    const nonceAfterNack = st.nonceSent;
    // The same (rejected) content pushed again is not resent.
    const again = server.nextPush();
    server.requestPush({ reason: 'same bad again' });
    assert.equal((await again).responses, 0, 'nothing sent for the rejected content');
    assert.equal(server.syncStatus()[0].types.clusters!.nonceSent, nonceAfterNack);
    for (let i = 0; i < 20; i++) assert.equal(await whoAnswers(listenPort), 'backend-b');
    // Good content again is sent and accepted.
    current = resources(listenPort, a);
    server.requestPush({ reason: 'good' });
    await within(async () => (await whoAnswers(listenPort)) === 'backend-a', 'traffic back to backend-a');
    await within(async () => { const c = server.syncStatus()[0].types.clusters!; return c.versionAcked === c.versionSent; }, 'good cluster version ACKed');
  });

  it('a restarted Envoy (now over the unix socket) reconnects and gets the same config', async () => {
    const versions = (): string[] => { const t = server.syncStatus()[0].types; return [t.clusters!.versionAcked!, t.endpoints!.versionAcked!, t.listeners!.versionAcked!, t.routes!.versionAcked!]; };
    const beforeRestart = versions();
    await envoy!.stop();
    envoy = undefined;
    await within(async () => server.syncStatus().length === 0, 'stream closed');
    assert.match(await metrics.registry.getSingleMetricAsString('meshpilot_xds_connected_proxies'), / 0$/m);
    envoy = await startEnvoy({ nodeId: NODE, labels: { istio: 'ingressgateway' }, xdsAddress: unixAddr });
    await envoy.waitReady();
    await envoy.waitForListener(listenPort);
    try {
      await within(async () => (await whoAnswers(listenPort)) === 'backend-a', 'traffic after Envoy restart');
    } catch (err) {
      throw new Error(`${String(err)}\nsyncz: ${JSON.stringify(server.syncStatus())}\nenvoy log:\n${envoy.logs().slice(-3000)}`);
    }
    await within(async () => versions().every((v, i) => v === beforeRestart[i]), 'same versions ACKed after restart');
  });
});
