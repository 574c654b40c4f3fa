/**
 * `meshpilot proxy-status` and `meshpilot proxy-config` (CLI child processes) against a running
 * meshpilot serving real Envoys over State of the World and Delta; and NACK truth: a cluster a real
 * Envoy rejects shows as NACKED, named, counted in a gauge, while the last good config serves.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createMetrics, type Metrics } from '../../../src/admin/metrics.js';
import { startAdminServer, type AdminServer } from '../../../src/admin/server.js';
import { silentLogger } from '../../../src/log.js';
import { buildBootstrap } from '../../../src/proxy/bootstrap.js';
import type { XdsResources } from '../../../src/translator/types.js';
import { XdsServer } from '../../../src/xds/server.js';
import { startBackends, stopBackends, type Backend } from '../../helpers/backends.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { httpGet, startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, nacksIn, who } from '../gateway/fixture.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const SOTW = 'router~127.0.0.1~gw-sotw.istio-system~istio-system.svc.cluster.local';
const DELTA = 'router~127.0.0.1~gw-delta.istio-system~istio-system.svc.cluster.local';

/** Runs the meshpilot CLI as a child process (async: the server under test may live in this process). */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('close', (status) => { clearTimeout(t); resolve({ status, stdout, stderr }); });
  });
}

async function gateway(nodeId: string, xdsAddress: string, delta: boolean): Promise<EnvoyProcess> {
  const bootstrap = buildBootstrap({ nodeId, labels: { istio: 'ingressgateway' }, xdsAddress, adminAddress: `127.0.0.1:${await freePort()}`, delta });
  return startEnvoy({ bootstrap, name: nodeId });
}

interface Row { name: string; protocol: string; status: Record<string, string>; nacked: Record<string, string[]> }

describe('proxy-status and proxy-config against a running meshpilot and real Envoys', () => {
  const cfg = new ConfigDir();
  let backends: Backend[];
  let mp: MeshpilotProcess;
  const envoys: EnvoyProcess[] = [];
  let port: number;
  let admin: string;

  before(async () => {
    backends = await startBackends(['a']);
    port = await freePort();
    cfg.write('mesh.yaml', [
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'a', namespace: 'default' },
        spec: { hosts: ['a.test.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: backends[0].host, ports: { http: backends[0].port } }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' }, spec: { hosts: ['web.example.com'], gateways: ['gw'], http: [{ route: [{ destination: { host: 'a.test.internal', port: { number: 80 } } }] }] } },
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    admin = mp.adminUrl.replace(/^http:\/\//, '');
    // Both gateways bind the same port (Envoy sets SO_REUSEPORT): either may answer.
    envoys.push(await gateway(SOTW, mp.xdsAddress, false));
    envoys.push(await gateway(DELTA, mp.xdsAddress, true));
    for (const e of envoys) await e.waitReady(30_000);
    await eventually(async () => (await who(port, 'web.example.com')) === 'a', 'traffic to a', 20_000);
  });

  after(async () => {
    try {
      assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), [], 'no NACK');
    } finally {
      for (const e of envoys) await e.stop();
      await mp?.stop();
      await stopBackends(backends);
      cfg.remove();
    }
  });

  it('proxy-status: both proxies, SotW and Delta, every subscribed type SYNCED, SDS NOT SENT', async () => {
    await eventually(async () => {
      const r = await cli(['proxy-status', '--admin-address', admin, '-o', 'json']);
      const rows = JSON.parse(r.stdout) as Row[];
      return rows.length === 2 && rows.every((x) => ['CDS', 'LDS', 'EDS', 'RDS'].every((c) => x.status[c] === 'SYNCED'));
    }, 'all SYNCED', 15_000);
    const r = await cli(['proxy-status', '--admin-address', admin, '-o', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Row[];
    assert.deepEqual(rows.map((x) => [x.name, x.protocol, x.status]), [
      [DELTA, 'Delta', { CDS: 'SYNCED', LDS: 'SYNCED', EDS: 'SYNCED', RDS: 'SYNCED', SDS: 'NOT SENT' }],
      [SOTW, 'SotW', { CDS: 'SYNCED', LDS: 'SYNCED', EDS: 'SYNCED', RDS: 'SYNCED', SDS: 'NOT SENT' }],
    ]);
    const table = await cli(['proxy-status', '--admin-address', admin]);
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0], /^NAME\s+XDS\s+CDS\s+LDS\s+EDS\s+RDS\s+SDS$/);
    assert.equal(lines.length, 3);
    assert.match(lines[2], new RegExp(`^${SOTW.replace(/[.~]/g, '\\$&')}\\s+SotW\\s+SYNCED\\s+SYNCED\\s+SYNCED\\s+SYNCED\\s+NOT SENT$`));
  });

  it('proxy-config: listeners, routes, clusters, endpoints as meshpilot sent them (short and json)', async () => {
    for (const id of [SOTW, DELTA]) {
      const l = await cli(['proxy-config', 'listeners', id, '--admin-address', admin]);
      assert.equal(l.status, 0, l.stderr);
      assert.match(l.stdout, new RegExp(`127\\.0\\.0\\.1:${port}`));
      const c = await cli(['proxy-config', 'clusters', id, '--admin-address', admin]);
      assert.match(c.stdout, /outbound\|80\|\|a\.test\.internal/);
      const e = await cli(['proxy-config', 'endpoints', id, '--admin-address', admin]);
      assert.match(e.stdout, new RegExp(`${backends[0].host}:${backends[0].port}\\s+outbound\\|80\\|\\|a\\.test\\.internal`));
    }
    const rj = await cli(['proxy-config', 'routes', SOTW, '--admin-address', admin, '-o', 'json']);
    assert.equal(rj.status, 0, rj.stderr);
    const routes = JSON.parse(rj.stdout) as Array<{ name: string; virtualHosts: Array<{ domains: string[] }> }>;
    assert.ok(routes.some((rc) => rc.virtualHosts.some((vh) => vh.domains.includes('web.example.com'))), 'web.example.com routed');
    // What proxy-config reports is what Envoy runs: the same route configuration names.
    const dump = JSON.stringify(await envoys[0].configDump());
    for (const rc of routes) assert.ok(dump.includes(`"name":"${rc.name}"`), `Envoy has route configuration ${rc.name}`);
  });

  it('bad input: unknown proxy, unknown kind, unreachable meshpilot → clear errors', async () => {
    const unknown = await cli(['proxy-config', 'clusters', 'router~1.2.3.4~nope.x~x.svc.cluster.local', '--admin-address', admin]);
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /nope\.x.*not connected/);
    const kind = await cli(['proxy-config', 'bananas', SOTW, '--admin-address', admin]);
    assert.notEqual(kind.status, 0);
    assert.match(kind.stderr, /proxy-config bananas: expected one of listeners, routes, clusters, endpoints, secrets/);
    const down = await cli(['proxy-status', '--admin-address', `127.0.0.1:${await freePort()}`]);
    assert.notEqual(down.status, 0);
    assert.match(down.stderr, /debug\/syncz: .*ECONNREFUSED/);
  });

  it('metrics: meshpilot_config_objects by kind; no proxy NACKed', async () => {
    const m = (await httpGet(`${mp.adminUrl}/metrics`)).body;
    assert.match(m, /meshpilot_config_objects\{kind="ServiceEntry"\} 1/);
    assert.match(m, /meshpilot_config_objects\{kind="VirtualService"\} 1/);
    assert.match(m, /meshpilot_config_objects\{kind="Gateway"\} 1/);
    assert.doesNotMatch(m, /meshpilot_xds_nacked_proxies\{/);
  });
});

const CLUSTER = 'outbound|80||backend.default.svc.cluster.local';

function handBuilt(listenPort: number, b: Backend, bad: boolean): XdsResources {
  return {
    listeners: [{ name: `0.0.0.0_${listenPort}`, value: {
      name: `0.0.0.0_${listenPort}`, address: { socketAddress: { address: '127.0.0.1', portValue: listenPort } },
      filterChains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        statPrefix: 't', rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: 'http.80' },
        httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      } }] }],
    } }],
    routes: [{ name: 'http.80', value: { name: 'http.80', virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: CLUSTER } }] }] } }],
    clusters: [{ name: CLUSTER, value: {
      name: CLUSTER, type: 'EDS', edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: CLUSTER },
      // Envoy requires a positive connect timeout: a negative one is rejected.
      connectTimeout: { seconds: bad ? -5 : 1, nanos: 0 },
    } }],
    endpoints: [{ name: CLUSTER, value: { clusterName: CLUSTER, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: b.host, portValue: b.port } } } }] }] } }],
    secrets: [],
  };
}

describe('NACK truth with real Envoys (SotW and Delta)', () => {
  let server: XdsServer;
  let adminServer: AdminServer;
  let metrics: Metrics;
  let backends: Backend[];
  const envoys: EnvoyProcess[] = [];
  const ports: number[] = [];

  before(async () => {
    backends = await startBackends(['good']);
    metrics = createMetrics();
    ports.push(await freePort(), await freePort());
    // Each proxy gets its own listener port (one resource set per proxy).
    let bad = false;
    server = new XdsServer({ generate: (p) => handBuilt(p.id === SOTW ? ports[0] : ports[1], backends[0], bad), logger: silentLogger, metrics, debounceMs: 20 });
    const xds = await server.listen('127.0.0.1:0');
    adminServer = await startAdminServer('127.0.0.1:0', { metrics, isReady: () => true, configz: () => [], syncz: () => server.syncStatus(), proxyConfig: (id) => server.resourcesFor(id) }, silentLogger);
    envoys.push(await gateway(SOTW, xds, false), await gateway(DELTA, xds, true));
    for (const e of envoys) await e.waitReady(30_000);
    for (const p of ports) await eventually(async () => (await who(p, `127.0.0.1:${p}`)) === 'good', `traffic on ${p}`, 20_000);
    // From now on every generation carries the rejected cluster.
    bad = true;
  });

  after(async () => {
    for (const e of envoys) await e.stop();
    await adminServer?.close();
    await server?.close();
    await stopBackends(backends);
  });

  it('a rejected cluster: proxy-status NACKED naming it, nacked gauge 2, last good config still serves', async () => {
    server.requestPush({ reason: 'bad cluster' });
    await eventually(async () => {
      const r = await cli(['proxy-status', '--admin-address', adminServer.address, '-o', 'json']);
      const rows = JSON.parse(r.stdout) as Row[];
      return rows.length === 2 && rows.every((x) => x.status.CDS === 'NACKED');
    }, 'both CDS NACKED', 15_000);
    const rows = JSON.parse((await cli(['proxy-status', '--admin-address', adminServer.address, '-o', 'json'])).stdout) as Row[];
    for (const row of rows) {
      assert.deepEqual(row.nacked, { clusters: [CLUSTER] }, `${row.name}: the rejected cluster is named`);
      assert.deepEqual([row.status.LDS, row.status.EDS, row.status.RDS], ['SYNCED', 'SYNCED', 'SYNCED'], `${row.name}: other types unaffected`);
    }
    const table = await cli(['proxy-status', '--admin-address', adminServer.address]);
    assert.match(table.stdout, new RegExp(`clusters rejected: ${CLUSTER.replace(/[|.]/g, '\\$&')}`));
    assert.match(await metrics.registry.getSingleMetricAsString('meshpilot_xds_nacked_proxies'), /type="clusters"\} 2/);
    for (const p of ports) for (let i = 0; i < 5; i++) assert.equal(await who(p, `127.0.0.1:${p}`), 'good', 'last good config serves');
  });
});
