/**
 * Failure behaviour a production control plane owes its proxies, with a real gateway Envoy:
 * - among 1,000 VirtualServices, one that turns invalid affects only itself: its last good version
 *   keeps serving, every other host keeps working and keeps taking updates;
 * - meshpilot killed with SIGKILL under traffic: zero failed requests while it is down; on restart
 *   the proxy resyncs to the same configuration (nothing duplicated, no listener or cluster churn)
 *   and a change made while it was down arrives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn, serviceWithBackends, who } from './fixture.js';

const HOSTS = 1000;

function gateway(port: number): unknown {
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'public', namespace: 'default' },
    spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] },
  };
}

/** VirtualService hN → backend `svc`, with a response header saying which generation of it this is. */
function vs(n: number, svc: string, generation = 1, extra: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `h${n}`, namespace: 'default' },
    spec: { hosts: [`h${n}.example.com`], gateways: ['public'], http: [{ route: [{ destination: { host: svc }, headers: { response: { set: { 'x-generation': String(generation) } } }, ...extra }] }] },
  };
}

type Syncz = Array<{ id: string; types: Record<string, { lastNack?: unknown; versionAcked?: string }> }>;

describe('resilience: one bad object among 1,000, and a SIGKILLed control plane', () => {
  const cfg = new ConfigDir();
  const backends: EchoBackend[] = [];
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;
  let xdsPort: number;

  const writeAll = (overrides: Map<number, unknown> = new Map()) => {
    const docs: unknown[] = [];
    for (let i = 0; i < HOSTS; i++) docs.push(overrides.get(i) ?? vs(i, i % 2 === 0 ? 'even' : 'odd'));
    cfg.write('virtual-services.yaml', docs);
  };

  before(async () => {
    backends.push(await startEchoBackend('even', '127.0.0.1', 0), await startEchoBackend('odd', '127.0.0.1', 0));
    [port, xdsPort] = [await freePort(), await freePort()];
    cfg.write('services.yaml', [...serviceWithBackends('even', [{ backend: backends[0], labels: {} }]), ...serviceWithBackends('odd', [{ backend: backends[1], labels: {} }])]);
    cfg.write('gateway.yaml', [gateway(port)]);
    writeAll();
    mp = await startMeshpilot({ configDir: cfg.dir, xdsAddress: `127.0.0.1:${xdsPort}`, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await who(port, `h${HOSTS - 1}.example.com`)) === 'odd', 'all 1,000 hosts routed', 30_000);
  });

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    await Promise.all(backends.map((b) => b.close()));
    cfg.remove();
  });

  it('an invalid VirtualService among 1,000 affects only itself; the others keep working and updating', async () => {
    // h500 turns invalid (negative weight) in the same write that moves h7 to generation 2.
    writeAll(new Map<number, unknown>([[500, vs(500, 'odd', 2, { weight: -5 })], [7, vs(7, 'even', 2)]]));
    await eventually(async () => (await get(port, '/', { host: 'h7.example.com' })).headers['x-generation'] === '2', 'h7 updated in the same write');
    const rejected = await mp.waitForLog((e) => typeof e.msg === 'string' && /invalid/i.test(e.msg) && JSON.stringify(e).includes('h500'));
    assert.match(JSON.stringify(rejected), /spec\.http\[0\]\.route\[0\]\.weight/, 'the log names the field');
    // h500 keeps its last good version (generation 1, backend even); a sample of the others all work.
    const h500 = await get(port, '/', { host: 'h500.example.com' });
    assert.equal(h500.status, 200);
    assert.equal(h500.headers['x-generation'], '1');
    assert.equal((JSON.parse(h500.body) as { name: string }).name, 'even');
    for (let i = 0; i < HOSTS; i += 37) {
      if (i === 500 || i === 7) continue;
      assert.equal(await who(port, `h${i}.example.com`), i % 2 === 0 ? 'even' : 'odd', `h${i}`);
    }
    // Fixing h500 later brings its new version in.
    writeAll(new Map<number, unknown>([[500, vs(500, 'odd', 3)], [7, vs(7, 'even', 2)]]));
    await eventually(async () => (await get(port, '/', { host: 'h500.example.com' })).headers['x-generation'] === '3', 'h500 fixed');
    assert.equal(await who(port, 'h500.example.com'), 'odd');
    assert.deepEqual(nacksIn(await mp.getJson<Syncz>('/debug/syncz')), []);
  });

  it('SIGKILL under traffic: zero failed requests while down; resync without churn; changes made meanwhile arrive', async () => {
    const acked = async () => (await mp.getJson<Syncz>('/debug/syncz'))[0]?.types ?? {};
    const versionsBefore = Object.fromEntries(Object.entries(await acked()).map(([t, s]) => [t, s.versionAcked]));
    const churn = async () => {
      const s = await envoy.stats('listener_manager|cluster_manager');
      const names = ['listener_manager.listener_added', 'listener_manager.listener_modified', 'listener_manager.listener_removed', 'cluster_manager.cluster_modified', 'cluster_manager.cluster_removed'];
      for (const n of names) assert.equal(typeof s[n], 'number', `Envoy reports ${n}`);
      return Object.fromEntries(names.map((n) => [n, s[n]]));
    };
    const churnBefore = await churn();
    // Traffic: four workers in a loop until told to stop (bounded by count as well as time).
    let stop = false;
    const failures: string[] = [];
    let ok = 0;
    const worker = async (w: number) => {
      for (let i = 0; i < 20_000 && !stop; i++) {
        const host = `h${(w * 131 + i * 17) % HOSTS}.example.com`;
        try {
          const r = await get(port, '/', { host });
          if (r.status === 200) ok++;
          else failures.push(`${host}: HTTP ${r.status}`);
        } catch (err) {
          failures.push(`${host}: ${(err as Error).message}`);
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(worker));
    try {
      await new Promise((r) => setTimeout(r, 500));
      mp.proc.kill('SIGKILL');
      await new Promise<void>((r) => mp.proc.once('exit', () => r()));
      const okAtKill = ok;
      // Down for two seconds under traffic; meanwhile h3 moves to generation 5.
      writeAll(new Map<number, unknown>([[3, vs(3, 'even', 5)], [500, vs(500, 'odd', 3)], [7, vs(7, 'even', 2)]]));
      await new Promise((r) => setTimeout(r, 2000));
      assert.ok(ok > okAtKill + 20, `traffic flowed while meshpilot was down (${ok - okAtKill} requests)`);
      mp = await startMeshpilot({ configDir: cfg.dir, xdsAddress: `127.0.0.1:${xdsPort}`, debounceMs: 50 });
      await eventually(async () => (await get(port, '/', { host: 'h3.example.com' })).headers['x-generation'] === '5', 'the change made while down arrives', 30_000);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      stop = true;
      await load;
    }
    assert.deepEqual(failures, [], `no failed request (of ${ok + failures.length})`);
    // Only the route configuration changed (h3); listeners and clusters were resent unchanged.
    const versionsAfter = Object.fromEntries(Object.entries(await acked()).map(([t, s]) => [t, s.versionAcked]));
    for (const t of Object.keys(versionsBefore)) {
      if (t === 'routes') assert.notEqual(versionsAfter[t], versionsBefore[t], `${t} changed`);
      else assert.equal(versionsAfter[t], versionsBefore[t], `${t}: same version after the restart`);
    }
    assert.deepEqual(await churn(), churnBefore, 'no listener or cluster was added, modified or removed by the resync');
    assert.deepEqual(nacksIn(await mp.getJson<Syncz>('/debug/syncz')), []);
  });
});
