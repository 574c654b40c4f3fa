/**
 * DestinationRule loadBalancer warmup (Envoy slow start) with real traffic: an endpoint that joins a
 * running service gets a small share of requests during its warm-up window, while the same
 * endpoint joining a service without warm-up gets its full share at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn, serviceWithBackends } from '../gateway/fixture.js';

describe('DestinationRule warmup: a new endpoint ramps up', () => {
  const cfg = new ConfigDir();
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;
  const backends: Record<string, EchoBackend> = {};

  const tally = async (host: string, n: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n / 10; i++) {
      const replies = await Promise.all(Array.from({ length: 10 }, () => get(port, '/', { host })));
      for (const r of replies) {
        const name = r.status === 200 ? (JSON.parse(r.body) as { name: string }).name : `HTTP ${r.status}`;
        counts[name] = (counts[name] ?? 0) + 1;
      }
    }
    return counts;
  };

  before(async () => {
    for (const n of ['w1', 'w2', 'w3', 'c1', 'c2', 'c3']) backends[n] = await startEchoBackend(n, '127.0.0.1', 0);
    port = await freePort();
    const rule = (name: string, loadBalancer: Record<string, unknown>) => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default' }, spec: { host: name, trafficPolicy: { loadBalancer } } });
    cfg.write('services.yaml', [
      ...serviceWithBackends('warm', [{ backend: backends.w1, labels: {} }, { backend: backends.w2, labels: {} }]),
      ...serviceWithBackends('cold', [{ backend: backends.c1, labels: {} }, { backend: backends.c2, labels: {} }]),
      rule('warm', { simple: 'ROUND_ROBIN', warmup: { duration: '10s', minimumPercent: 5, aggression: 1 } }),
      rule('cold', { simple: 'ROUND_ROBIN' }),
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' },
        spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } },
      ...['warm', 'cold'].map((n) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: n, namespace: 'default' },
        spec: { hosts: [`${n}.example.com`], gateways: ['gw'], http: [{ route: [{ destination: { host: n, port: { number: 9080 } } }] }] } })),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await get(port, '/', { host: 'warm.example.com' })).status === 200, 'routes ready', 20_000);
  });

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    await Promise.all(Object.values(backends).map((b) => b.close()));
    cfg.remove();
  });

  it('the endpoint added to a warming service gets far less than its share; without warmup it gets its share', async () => {
    // Slow start only tells new endpoints from old ones: let the first two age past the 10 s window.
    await new Promise((r) => setTimeout(r, 11_000));
    // Third endpoints join both services (their own EndpointSlices, as a scale-up would add).
    const joining = (svc: string, b: EchoBackend) => (serviceWithBackends(svc, [{ backend: b, labels: {} }]) as Array<{ kind: string }>).filter((d) => d.kind !== 'Service');
    cfg.write('scale-up.yaml', [...joining('warm', backends.w3), ...joining('cold', backends.c3)]);
    await eventually(async () => {
      await tally('cold.example.com', 10);
      return backends.c3.hits() > 0;
    }, 'the new endpoints are in Envoy', 20_000);
    const warm = await tally('warm.example.com', 200);
    const cold = await tally('cold.example.com', 200);
    process.stderr.write(`warmup: with warm-up ${JSON.stringify(warm)}, without ${JSON.stringify(cold)}\n`);
    assert.ok((cold.c3 ?? 0) >= 50, `without warmup the new endpoint takes about a third at once: ${JSON.stringify(cold)}`);
    assert.ok((warm.w3 ?? 0) <= 30, `early in its 10 s warm-up the new endpoint takes a small share: ${JSON.stringify(warm)}`);
    assert.equal((warm.w1 ?? 0) + (warm.w2 ?? 0) + (warm.w3 ?? 0), 200, 'no failed request');
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
  });
});
