/**
 * The ADS server against a real Envoy, with hand-built resources: config arrives, traffic flows,
 * a change moves traffic, a rejected (NACKed) version is recorded and never resent while the
 * last good configuration keeps serving, and a restarted Envoy gets the same config.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetrics } from '../../../src/admin/metrics.js';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { silentLogger } from '../../../src/log.js';
import type { XdsResources } from '../../../src/translator/types.js';
import { XdsServer } from '../../../src/xds/server.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { httpGet } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';

const NODE = 'router~127.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local';

function resources(listenPort: number, backend: EchoBackend, opts: { badCluster?: boolean } = {}): XdsResources {
  const cluster = 'outbound|80||backend.default.svc.cluster.local';
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

async function whoAnswers(port: number): Promise<string> {
  const r = await httpGet(`http://127.0.0.1:${port}/`);
  return r.status === 200 ? (JSON.parse(r.body) as { name: string }).name : `HTTP ${r.status}`;
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what}`);
}

describe('ADS server with a real Envoy', () => {
  let server: XdsServer;
  let envoy: EnvoyProcess | undefined;
  let a: EchoBackend;
  let b: EchoBackend;
  let current: XdsResources;
  let listenPort: number;
  let xdsAddr: string;

  before(async () => {
    a = await startEchoBackend('backend-a', '127.0.0.1', 0);
    b = await startEchoBackend('backend-b', '127.0.0.1', 0);
    listenPort = await freePort();
    current = resources(listenPort, a);
    server = new XdsServer({ generate: () => current, logger: silentLogger, metrics: createMetrics(), debounceMs: 20 });
    xdsAddr = await server.listen('127.0.0.1:0');
    envoy = await startEnvoy({ nodeId: NODE, labels: { istio: 'ingressgateway' }, xdsAddress: xdsAddr });
  });

  after(async () => {
    await envoy?.stop();
    await server.close();
    await a.close();
    await b.close();
  });

  it('delivers listeners, routes, clusters and endpoints; traffic reaches the backend', async () => {
    await envoy!.waitForListener(listenPort);
    await eventually(async () => (await whoAnswers(listenPort)) === 'backend-a', 'traffic to backend-a');
    const st = server.syncStatus();
    assert.equal(st.length, 1);
    assert.equal(st[0].id, NODE);
    for (const kind of ['clusters', 'endpoints', 'listeners', 'routes'] as const) {
      assert.ok(st[0].types[kind]?.versionAcked, `${kind} acked`);
      assert.equal(st[0].types[kind]?.versionAcked, st[0].types[kind]?.versionSent);
      assert.equal(st[0].types[kind]?.lastNack, undefined);
    }
  });

  it('a push moves traffic to the new endpoint', async () => {
    current = resources(listenPort, b);
    server.requestPush({ reason: 'test' });
    await eventually(async () => (await whoAnswers(listenPort)) === 'backend-b', 'traffic to backend-b');
    for (let i = 0; i < 20; i++) assert.equal(await whoAnswers(listenPort), 'backend-b');
  });

  it('records a NACK, never resends the rejected version, keeps serving the last good config', async () => {
    const before = server.syncStatus()[0].types.clusters!;
    current = resources(listenPort, b, { badCluster: true });
    server.requestPush({ reason: 'bad' });
    await eventually(async () => server.syncStatus()[0].types.clusters?.lastNack !== undefined, 'NACK recorded');
    const st = server.syncStatus()[0].types.clusters!;
    assert.equal(st.versionAcked, before.versionAcked, 'last good version stays acked');
    assert.notEqual(st.lastNack!.version, before.versionAcked);
    assert.match(st.lastNack!.message, /duration/i);
    const nonceAfterNack = st.nonceSent;
    // The same (rejected) content pushed again is not resent.
    server.requestPush({ reason: 'same bad again' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.syncStatus()[0].types.clusters!.nonceSent, nonceAfterNack);
    for (let i = 0; i < 20; i++) assert.equal(await whoAnswers(listenPort), 'backend-b');
    // Good content again is sent and accepted.
    current = resources(listenPort, a);
    server.requestPush({ reason: 'good' });
    await eventually(async () => (await whoAnswers(listenPort)) === 'backend-a', 'traffic back to backend-a');
  });

  it('a restarted Envoy reconnects and gets the same config', async () => {
    await envoy!.stop();
    envoy = undefined;
    await eventually(async () => server.syncStatus().length === 0, 'stream closed');
    envoy = await startEnvoy({ nodeId: NODE, labels: { istio: 'ingressgateway' }, xdsAddress: xdsAddr });
    await envoy.waitForListener(listenPort);
    try {
      await eventually(async () => (await whoAnswers(listenPort)) === 'backend-a', 'traffic after Envoy restart');
    } catch (err) {
      throw new Error(`${String(err)}\nsyncz: ${JSON.stringify(server.syncStatus())}\nenvoy log:\n${envoy.logs().slice(-3000)}`);
    }
  });
});
