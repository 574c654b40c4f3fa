/**
 * outlierDetection's limits through a real gateway Envoy: maxEjectionPercent caps how many failing
 * endpoints are ejected, and minHealthPercent puts the cluster in panic (ejections ignored, traffic
 * to every endpoint) when too few endpoints are left.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn } from '../gateway/fixture.js';
import { Backend } from '../gateway/recording-backend.js';

/** A backend that answers every request with `status`. */
async function backend(status: number): Promise<Backend> {
  const b = new Backend(`status-${status}`);
  b.behave = () => ({ status });
  await b.start();
  return b;
}

describe('outlierDetection maxEjectionPercent and minHealthPercent', () => {
  const cfg = new ConfigDir();
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;
  const backends: Backend[] = [];

  before(async () => {
    const [bad1, bad2, good1, bad3, good2] = await Promise.all([backend(503), backend(503), backend(200), backend(503), backend(200)]);
    backends.push(bad1, bad2, good1, bad3, good2);
    port = await freePort();
    const entry = (name: string, ports: number[]) => ({
      apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'default' },
      spec: { hosts: [`${name}.internal`], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
        endpoints: ports.map((p) => ({ address: '127.0.0.1', ports: { http: p } })) },
    });
    const rule = (name: string, od: Record<string, unknown>) => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default' },
      spec: { host: `${name}.internal`, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: { consecutive5xxErrors: 1, interval: '1s', baseEjectionTime: '60s', ...od } } } });
    cfg.write('config.yaml', [
      entry('capped', [bad1.port, bad2.port, good1.port]),
      rule('capped', { maxEjectionPercent: 34 }),
      entry('panic', [bad3.port, good2.port]),
      rule('panic', { maxEjectionPercent: 100, minHealthPercent: 60 }),
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' },
        spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } },
      ...['capped', 'panic'].map((n) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: n, namespace: 'default' },
        spec: { hosts: [`${n}.example.com`], gateways: ['gw'], http: [{ route: [{ destination: { host: `${n}.internal`, port: { number: 80 } } }], retries: { attempts: 0 } }] } })),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => [200, 503].includes((await get(port, '/', { host: 'capped.example.com' })).status), 'routes ready', 20_000);
  });

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    for (const b of backends) await b.close();
    cfg.remove();
  });

  const stat = async (cluster: string, name: string) => (await envoy.stats(cluster))[`cluster.outbound|80||${cluster}.${name}`] ?? 0;
  const statuses = async (host: string, n: number) => {
    const out: Record<number, number> = {};
    for (let i = 0; i < n; i++) { const s = (await get(port, '/', { host })).status; out[s] = (out[s] ?? 0) + 1; }
    return out;
  };

  it('maxEjectionPercent 34: of two failing endpoints out of three only one is ejected; the other keeps failing requests', async () => {
    await eventually(async () => { await statuses('capped.example.com', 6); return (await stat('capped.internal', 'outlier_detection.ejections_active')) >= 1; }, 'one ejection', 20_000);
    const after = await statuses('capped.example.com', 40);
    assert.equal(await stat('capped.internal', 'outlier_detection.ejections_active'), 1, 'never more than 34% of three endpoints');
    assert.ok((await stat('capped.internal', 'outlier_detection.ejections_overflow')) >= 1, 'further ejections overflowed the cap');
    assert.ok((after[503] ?? 0) >= 8 && (after[200] ?? 0) >= 8, `the remaining failing endpoint still gets traffic: ${JSON.stringify(after)}`);
  });

  it('minHealthPercent 60: ejecting one of two endpoints leaves 50% healthy, so Envoy panics and keeps using both', async () => {
    await eventually(async () => { await statuses('panic.example.com', 6); return (await stat('panic.internal', 'outlier_detection.ejections_active')) >= 1; }, 'the failing endpoint is ejected', 20_000);
    const after = await statuses('panic.example.com', 40);
    assert.ok((await stat('panic.internal', 'lb_healthy_panic')) >= 1, 'the load balancer reports panic');
    assert.ok((after[503] ?? 0) >= 8 && (after[200] ?? 0) >= 8, `in panic the ejected endpoint still gets traffic: ${JSON.stringify(after)}`);
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
  });
});
