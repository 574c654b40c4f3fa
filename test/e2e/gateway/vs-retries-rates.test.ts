/**
 * The VirtualService rows that need timing or rates, through a real gateway Envoy: perTryTimeout
 * cutting a slow first attempt, retryRemoteLocalities moving a retry to another locality, a
 * mirror percentage below 100 and a fault delay on part of the requests (both within tolerance).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn } from './fixture.js';
import { Backend } from './recording-backend.js';

const within = (n: number, total: number, p: number) => Math.abs(n - total * p) <= 5 * Math.sqrt(total * p * (1 - p));

describe('VirtualService retries, mirrors and faults measured', () => {
  const cfg = new ConfigDir();
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;
  // First attempt (x-envoy-attempt-count: 1) hangs for 3 s; later attempts answer at once.
  const slowFirst = new Backend('slow-first');
  slowFirst.behave = (req) => (String(req.headers['x-envoy-attempt-count'] ?? '1') === '1' ? { delayMs: 3000 } : {});
  const local = new Backend('local');
  local.behave = () => ({ status: 503 });
  const remote = new Backend('remote');
  const primary = new Backend('primary');
  const shadow = new Backend('shadow');
  const plain = new Backend('plain');

  before(async () => {
    for (const b of [slowFirst, local, remote, primary, shadow, plain]) await b.start();
    port = await freePort();
    const entry = (name: string, eps: Array<{ b: Backend; locality?: string }>) => ({
      apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'default' },
      spec: { hosts: [`${name}.internal`], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
        endpoints: eps.map((e) => ({ address: '127.0.0.1', ports: { http: e.b.port }, ...(e.locality ? { locality: e.locality } : {}) })) },
    });
    const vs = (name: string, http: unknown[]) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts: [`${name}.example.com`], gateways: ['gw'], http } });
    const to = (host: string) => [{ destination: { host: `${host}.internal`, port: { number: 80 } } }];
    cfg.write('config.yaml', [
      entry('slow', [{ b: slowFirst }]),
      entry('geo', [{ b: local, locality: 'us-east/zone1' }, { b: remote, locality: 'eu-west/zone1' }]),
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'geo', namespace: 'default' },
        // Outlier detection turns locality priorities on (as in Istio); its threshold keeps "local" from being ejected here.
        spec: { host: 'geo.internal', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1000, interval: '10s', baseEjectionTime: '1s' }, loadBalancer: { simple: 'ROUND_ROBIN', localityLbSetting: { enabled: true } } } } },
      entry('primary', [{ b: primary }]), entry('shadow', [{ b: shadow }]), entry('plain', [{ b: plain }]),
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' },
        spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } },
      vs('per-try', [{ route: to('slow'), retries: { attempts: 2, perTryTimeout: '300ms', retryOn: 'gateway-error,reset' } }]),
      vs('no-per-try', [{ route: to('slow'), timeout: '1s', retries: { attempts: 0 } }]),
      vs('geo-remote', [{ route: to('geo'), retries: { attempts: 2, retryOn: '5xx', retryRemoteLocalities: true } }]),
      vs('geo-local', [{ route: to('geo'), retries: { attempts: 2, retryOn: '5xx' } }]),
      vs('mirror', [{ route: to('primary'), mirrors: [{ destination: { host: 'shadow.internal', port: { number: 80 } }, percentage: { value: 30 } }] }]),
      vs('delay', [{ route: to('plain'), fault: { delay: { fixedDelay: '400ms', percentage: { value: 50 } } } }]),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    // The gateway runs in us-east/zone1 (its istio-locality label, as Istio's agent reads it).
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: { ...GATEWAY_LABELS, 'istio-locality': 'us-east.zone1' }, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await get(port, '/', { host: 'mirror.example.com' })).status === 200, 'routes ready', 20_000);
  });

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    for (const b of [slowFirst, local, remote, primary, shadow, plain]) await b.close();
    cfg.remove();
  });

  it('perTryTimeout cuts a hanging first attempt and the retry answers; without it the route timeout fires', async () => {
    const t0 = Date.now();
    const r = await get(port, '/', { host: 'per-try.example.com' });
    const took = Date.now() - t0;
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-envoy-attempt-count'], '2', 'answered by the second attempt');
    assert.ok(took < 2000, `answered by the second attempt in ${took} ms, not after the 3 s first one`);
    const slow = await get(port, '/', { host: 'no-per-try.example.com' });
    assert.equal(slow.status, 504, 'one attempt, cut by the 1 s route timeout');
  });

  it('retryRemoteLocalities: a failing local endpoint is retried in the other locality; without it the retry stays local', async () => {
    const remoteBefore = remote.seen.length;
    for (let i = 0; i < 10; i++) assert.equal((await get(port, '/', { host: 'geo-remote.example.com' })).status, 200, `request ${i}`);
    assert.ok(remote.seen.length - remoteBefore >= 10, 'every request was answered in eu-west after the local 503');
    const localBefore = local.seen.length;
    const remoteMid = remote.seen.length;
    for (let i = 0; i < 10; i++) assert.equal((await get(port, '/', { host: 'geo-local.example.com' })).status, 503, `request ${i}`);
    assert.equal(remote.seen.length, remoteMid, 'no retry left the local locality');
    assert.equal(local.seen.length - localBefore, 30, 'each request tried local three times');
  });

  it('a mirror percentage of 30 copies about 30% of requests (±5 sd over 300); the caller sees only the primary', async () => {
    const before = shadow.seen.length;
    for (let i = 0; i < 30; i++) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => get(port, '/', { host: 'mirror.example.com' })));
      for (const r of batch) assert.equal((JSON.parse(r.body) as { name: string }).name, 'primary');
    }
    await new Promise((r) => setTimeout(r, 500));
    const copies = shadow.seen.length - before;
    assert.ok(within(copies, 300, 0.3), `${copies} of 300 mirrored`);
  });

  it('a fault delay on 50% of requests delays about half of them (±5 sd over 100)', async () => {
    let delayed = 0;
    for (let i = 0; i < 10; i++) {
      const times = await Promise.all(Array.from({ length: 10 }, async () => {
        const t0 = Date.now();
        const r = await get(port, '/', { host: 'delay.example.com' });
        assert.equal(r.status, 200);
        return Date.now() - t0;
      }));
      delayed += times.filter((t) => t >= 380).length;
    }
    assert.ok(within(delayed, 100, 0.5), `${delayed} of 100 delayed`);
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
  });
});
