/**
 * VirtualService rows that depend on who calls, through real sidecars in pod network namespaces:
 * match.sourceLabels (the calling workload's labels) and match.sourceNamespace, and exportTo — a
 * VirtualService exported to "." steers only sidecars of its own namespace, one exported to "*"
 * every namespace's; two VirtualServices for one host: sidecars use the older, and the conflict is logged.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { PodNetwork, podNetworkUnsupportedReason } from '../../helpers/pod-network.js';
import { HTTP_APP, HTTP_LOOP, startSidecar, type Sidecar } from '../../helpers/sidecar.js';
import { ConfigDir, eventually, nacksIn } from '../gateway/fixture.js';

type Syncz = Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>;
type Counts = { counts: Record<string, number>; failures: string[] };

const unsupported = podNetworkUnsupportedReason();
if (unsupported) throw new Error(`sidecar tests need a pod network: ${unsupported}`);

const WEB = 'web.default.svc.cluster.local';
const subset = (v: string) => ({ destination: { host: WEB, subset: v } });
const vs = (name: string, namespace: string, http: unknown[], exportTo?: string[], creationTimestamp?: string) =>
  ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace, ...(creationTimestamp ? { creationTimestamp } : {}) }, spec: { hosts: [WEB], http, ...(exportTo ? { exportTo } : {}) } });

describe('VirtualService source matches and exportTo through real sidecars', () => {
  const net = new PodNetwork();
  const cfg = new ConfigDir();
  const work = mkdtempSync(join(tmpdir(), 'meshpilot-routes-'));
  chmodSync(work, 0o755);
  const apps: ChildProcess[] = [];
  const sidecars: Sidecar[] = [];
  let mp: MeshpilotProcess;

  // client-a: namespace default, app=client-a; client-b: namespace team, app=client-b.
  async function loop(pod: string, headers: Record<string, string>, count: number): Promise<Counts> {
    const r = await net.exec(pod, process.execPath, ['-e', HTTP_LOOP, 'http://web.default:8080/', JSON.stringify(headers), String(count)], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`client failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Counts;
  }
  const only = async (pod: string, headers: Record<string, string>, backend: string) => JSON.stringify(await loop(pod, headers, 10)) === JSON.stringify({ counts: { [backend]: 10 }, failures: [] });

  before(async () => {
    await net.setup();
    for (const p of ['client-a', 'client-b', 'web-v1', 'web-v2']) await net.addPod(p);
    const vip = net.serviceIp(30);
    // Both clients call web.default: the bare name "web" is a virtual-host domain only inside default.
    net.addHost('web.default', vip);
    net.addHost(WEB, vip);
    cfg.write('services.yaml', [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: vip, ports: [{ name: 'http', port: 8080 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: ['v1', 'v2'].map((v) => ({ addresses: [net.pod(`web-${v}`).ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `web-${v}`, namespace: 'default' } })) },
      ...['v1', 'v2'].map((v) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `web-${v}`, namespace: 'default', labels: { app: 'web', version: v } }, status: { podIP: net.pod(`web-${v}`).ip } })),
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client-a', namespace: 'default', labels: { app: 'client-a' } }, status: { podIP: net.pod('client-a').ip } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client-b', namespace: 'team', labels: { app: 'client-b' } }, status: { podIP: net.pod('client-b').ip } },
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'web', namespace: 'default' }, spec: { host: WEB, subsets: ['v1', 'v2'].map((v) => ({ name: v, labels: { version: v } })) } },
    ]);
    cfg.write('routes.yaml', [vs('web', 'default', [
      { match: [{ sourceLabels: { app: 'client-b' }, headers: { 'x-case': { exact: 'labels' } } }], route: [subset('v2')] },
      { match: [{ sourceNamespace: 'team', headers: { 'x-case': { exact: 'namespace' } } }], route: [subset('v2')] },
      { match: [{ sourceLabels: { app: 'client-a' }, sourceNamespace: 'team', headers: { 'x-case': { exact: 'both' } } }], route: [subset('v2')] },
      { route: [subset('v1')] },
    ])]);
    const xdsSocket = join(work, 'xds.sock');
    mp = await startMeshpilot({ configDir: cfg.dir, xdsAddress: `unix://${xdsSocket}`, debounceMs: 50 });
    for (const v of ['v1', 'v2']) apps.push(net.spawn(`web-${v}`, process.execPath, ['-e', HTTP_APP, `web-${v}`, '8080'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    sidecars.push(await startSidecar(net, { pod: 'client-a', namespace: 'default', labels: { app: 'client-a' }, xdsSocket, workDir: work }));
    sidecars.push(await startSidecar(net, { pod: 'client-b', namespace: 'team', labels: { app: 'client-b' }, xdsSocket, workDir: work }));
    for (const s of sidecars) await s.waitFor((d) => d.includes('virtualOutbound') && d.includes(`outbound|8080|v2|${WEB}`), 'listeners and subset clusters');
  });

  after(async () => {
    const syncz = mp ? await mp.getJson<Syncz>('/debug/syncz') : [];
    for (const p of [...apps, ...sidecars.map((s) => s.proc)]) p.kill('SIGKILL');
    await mp?.stop();
    await net.teardown();
    cfg.remove();
    rmSync(work, { recursive: true, force: true });
    assert.deepEqual(nacksIn(syncz), [], 'no NACK');
  });

  it('sourceLabels and sourceNamespace select rows by the calling workload (10 requests per case)', async () => {
    await eventually(() => only('client-a', {}, 'web-v1'), 'first requests through the sidecar', 20_000);
    assert.deepEqual(await loop('client-b', { 'x-case': 'labels' }, 10), { counts: { 'web-v2': 10 }, failures: [] }, 'client-b has app=client-b');
    assert.deepEqual(await loop('client-a', { 'x-case': 'labels' }, 10), { counts: { 'web-v1': 10 }, failures: [] }, 'client-a lacks the label');
    assert.deepEqual(await loop('client-b', { 'x-case': 'namespace' }, 10), { counts: { 'web-v2': 10 }, failures: [] }, 'client-b is in team');
    assert.deepEqual(await loop('client-a', { 'x-case': 'namespace' }, 10), { counts: { 'web-v1': 10 }, failures: [] }, 'client-a is in default');
    assert.deepEqual(await loop('client-a', { 'x-case': 'both' }, 10), { counts: { 'web-v1': 10 }, failures: [] }, 'labels right, namespace wrong: both are needed');
    assert.deepEqual(await loop('client-b', { 'x-case': 'both' }, 10), { counts: { 'web-v1': 10 }, failures: [] }, 'namespace right, labels wrong');
  });

  it('exportTo ".": each namespace sees only its own VirtualService; "*" reaches every namespace', async () => {
    cfg.write('routes.yaml', [
      vs('web', 'default', [{ route: [subset('v1')] }], ['.']),
      vs('web-team', 'team', [{ route: [subset('v2')] }], ['.']),
    ]);
    await eventually(() => only('client-b', {}, 'web-v2'), 'team sees its own VirtualService', 20_000);
    assert.deepEqual(await loop('client-a', {}, 20), { counts: { 'web-v1': 20 }, failures: [] }, 'default is not steered by team\'s VirtualService');
    assert.deepEqual(await loop('client-b', {}, 20), { counts: { 'web-v2': 20 }, failures: [] }, 'team is not steered by default\'s VirtualService');
    // team's VirtualService exported to every namespace; default's gone.
    cfg.write('routes.yaml', [vs('web-team', 'team', [{ route: [subset('v2')] }], ['*'])]);
    await eventually(() => only('client-a', {}, 'web-v2'), 'default now follows team\'s VirtualService', 20_000);
    assert.deepEqual(await loop('client-a', {}, 20), { counts: { 'web-v2': 20 }, failures: [] });
    assert.deepEqual(await loop('client-b', {}, 20), { counts: { 'web-v2': 20 }, failures: [] });
    // Exported only to default: team falls back to the service's own cluster (both versions).
    cfg.write('routes.yaml', [vs('web-team', 'team', [{ route: [subset('v2')] }], ['default'])]);
    await eventually(async () => ((await loop('client-b', {}, 20)).counts['web-v1'] ?? 0) > 0, 'team no longer steered', 20_000);
    assert.deepEqual(await loop('client-a', {}, 20), { counts: { 'web-v2': 20 }, failures: [] }, 'a namespace named in exportTo is steered');
  });

  it('two VirtualServices for one host: sidecars use the older one only, and the conflict is logged', async () => {
    cfg.write('routes.yaml', [
      // "a-newer" sorts first by name: only the creation time makes "z-older" win.
      vs('a-newer', 'default', [{ route: [subset('v1')] }], undefined, '2024-02-01T00:00:00Z'),
      vs('z-older', 'default', [{ route: [subset('v2')] }], undefined, '2024-01-01T00:00:00Z'),
    ]);
    await eventually(() => only('client-b', {}, 'web-v2'), 'the older VirtualService applies', 20_000);
    assert.deepEqual(await loop('client-a', {}, 20), { counts: { 'web-v2': 20 }, failures: [] });
    await mp.waitForLog((e) => String(e.msg).includes(`host ${WEB}: VirtualServices default/z-older and default/a-newer both route it for sidecars`));
  });

  it('per-match gateways on a VirtualService bound to mesh and a gateway: sidecars take only rows for mesh', async () => {
    cfg.write('routes.yaml', [{ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' }, spec: {
      hosts: [WEB], gateways: ['mesh', 'istio-system/gw'],
      http: [
        { match: [{ gateways: ['istio-system/gw'] }], route: [subset('v2')] },
        { match: [{ gateways: ['mesh'], headers: { 'x-case': { exact: 'mesh' } } }], route: [subset('v2')] },
        { route: [subset('v1')] },
      ],
    } }]);
    await eventually(() => only('client-a', {}, 'web-v1'), 'the gateway-only row is not on sidecars', 20_000);
    assert.deepEqual(await loop('client-a', {}, 20), { counts: { 'web-v1': 20 }, failures: [] });
    assert.deepEqual(await loop('client-b', { 'x-case': 'mesh' }, 20), { counts: { 'web-v2': 20 }, failures: [] }, 'the mesh row applies');
  });
});
