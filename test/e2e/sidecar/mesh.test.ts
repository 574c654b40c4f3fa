/**
 * The seed's mesh for real: pods in network namespaces, each with an Envoy sidecar that captures
 * its traffic (meshpilot proxy-init + Envoy as uid 1337), configured by meshpilot from a folder.
 * productpage → reviews v1/v2/v3 by hostname; VirtualServices steer the calls.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { PodNetwork, podNetworkUnsupportedReason } from '../../helpers/pod-network.js';
import { HTTP_APP, HTTP_LOOP, TCP_LOOP, TCP_TAG, startSidecar, type Sidecar } from '../../helpers/sidecar.js';
import { ConfigDir, eventually, nacksIn } from '../gateway/fixture.js';

type Syncz = Array<{ id: string; types: Record<string, { lastNack?: unknown; versionAcked?: string }> }>;

const unsupported = podNetworkUnsupportedReason();
if (unsupported) throw new Error(`sidecar tests need a pod network: ${unsupported}`);

function reviewsRouting(spec: 'seed' | { v1: number; v3: number }): unknown[] {
  const http = spec === 'seed'
    ? [
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
      { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
    ]
    : [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: spec.v1 }, { destination: { host: 'reviews', subset: 'v3' }, weight: spec.v3 }] }];
  return [
    { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default' }, spec: { hosts: ['reviews'], http } },
    { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'default' }, spec: { host: 'reviews', subsets: ['v1', 'v2', 'v3'].map((v) => ({ name: v, labels: { version: v } })) } },
  ];
}

describe('sidecars in pod network namespaces', () => {
  const net = new PodNetwork();
  const cfg = new ConfigDir();
  const work = mkdtempSync(join(tmpdir(), 'meshpilot-mesh-'));
  chmodSync(work, 0o755);
  const apps: ChildProcess[] = [];
  const sidecars: Sidecar[] = [];
  let mp: MeshpilotProcess;
  const pods = ['productpage', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'outside', 'mongo-v1', 'mongo-v2', 'legacy'];

  async function loop(url: string, headers: Record<string, string>, count: number): Promise<{ counts: Record<string, number>; failures: string[] }> {
    const r = await net.exec('productpage', process.execPath, ['-e', HTTP_LOOP, url, JSON.stringify(headers), String(count)], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`client failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as { counts: Record<string, number>; failures: string[] };
  }

  async function assertNoNack(): Promise<void> {
    assert.deepEqual(nacksIn(await mp.getJson<Syncz>('/debug/syncz')), []);
  }

  before(async () => {
    await net.setup();
    for (const p of pods) await net.addPod(p);
    const vip = net.serviceIp(10);
    net.addHost('reviews', vip);
    net.addHost('reviews.default.svc.cluster.local', vip);
    net.addHost('outside', net.pod('outside').ip);
    net.addHost('mongodb', net.serviceIp(20));
    const objects: unknown[] = [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews', namespace: 'default' }, spec: { clusterIP: vip, ports: [{ name: 'http', port: 9080, targetPort: 9080 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'reviews-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'reviews' } }, addressType: 'IPv4',
        ports: [{ name: 'http', port: 9080, protocol: 'TCP' }],
        endpoints: ['v1', 'v2', 'v3'].map((v) => ({ addresses: [net.pod(`reviews-${v}`).ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `reviews-${v}`, namespace: 'default' } })) },
      ...['v1', 'v2', 'v3'].map((v) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `reviews-${v}`, namespace: 'default', labels: { app: 'reviews', version: v } }, status: { podIP: net.pod(`reviews-${v}`).ip } })),
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'productpage', namespace: 'default', labels: { app: 'productpage', version: 'v1' } }, status: { podIP: net.pod('productpage').ip } },
      // A TCP service with two versions (no sidecars on these backends).
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'mongodb', namespace: 'default' }, spec: { clusterIP: net.serviceIp(20), ports: [{ name: 'tcp-mongo', port: 27017 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'mongodb-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'mongodb' } }, addressType: 'IPv4',
        ports: [{ name: 'tcp-mongo', port: 27017, protocol: 'TCP' }],
        endpoints: ['v1', 'v2'].map((v) => ({ addresses: [net.pod(`mongo-${v}`).ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `mongo-${v}`, namespace: 'default' } })) },
      ...['v1', 'v2'].map((v) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `mongo-${v}`, namespace: 'default', labels: { app: 'mongodb', version: v } }, status: { podIP: net.pod(`mongo-${v}`).ip } })),
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'mongodb', namespace: 'default' }, spec: { host: 'mongodb', subsets: ['v1', 'v2'].map((v) => ({ name: v, labels: { version: v } })) } },
      // A workload without iptables: its Sidecar binds real listeners (captureMode NONE).
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'legacy', namespace: 'legacy', labels: { app: 'legacy' } }, status: { podIP: net.pod('legacy').ip } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'legacy', namespace: 'legacy' }, spec: {
        workloadSelector: { labels: { app: 'legacy' } },
        ingress: [{ port: { number: 9081, protocol: 'HTTP', name: 'http' }, defaultEndpoint: '127.0.0.1:8080', captureMode: 'NONE' }],
        egress: [{ port: { number: 9080, protocol: 'HTTP', name: 'http' }, bind: '127.0.0.1', captureMode: 'NONE', hosts: ['default/*'] }, { hosts: ['default/*'] }],
      } },
      // Services of another team's namespace: visible by default, scoped away by a Sidecar.
      ...Array.from({ length: 30 }, (_, i) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: 'other' }, spec: { clusterIP: net.serviceIp(100 + i), ports: [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090 }] } })),
    ];
    cfg.write('services.yaml', objects);
    cfg.write('routing.yaml', reviewsRouting('seed'));
    const xdsSocket = join(work, 'xds.sock');
    mp = await startMeshpilot({ configDir: cfg.dir, xdsAddress: `unix://${xdsSocket}`, debounceMs: 50 });
    for (const v of ['v1', 'v2', 'v3']) {
      const app = net.spawn(`reviews-${v}`, process.execPath, ['-e', HTTP_APP, `reviews-${v}`, '9080'], { stdio: ['ignore', 'pipe', 'pipe'] });
      apps.push(app);
      sidecars.push(await startSidecar(net, { pod: `reviews-${v}`, labels: { app: 'reviews', version: v }, xdsSocket, workDir: work }));
    }
    apps.push(net.spawn('outside', process.execPath, ['-e', HTTP_APP, 'outside', '8000'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    for (const v of ['v1', 'v2']) apps.push(net.spawn(`mongo-${v}`, process.execPath, ['-e', TCP_TAG, `mongo-${v}`, '27017'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    sidecars.push(await startSidecar(net, { pod: 'productpage', labels: { app: 'productpage', version: 'v1' }, xdsSocket, workDir: work }));
    apps.push(net.spawn('legacy', process.execPath, ['-e', HTTP_APP, 'legacy', '8080'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    sidecars.push(await startSidecar(net, { pod: 'legacy', namespace: 'legacy', labels: { app: 'legacy' }, xdsSocket, workDir: work, capture: false }));
    for (const s of sidecars) await s.waitFor((d) => d.includes('virtualInbound') && d.includes('virtualOutbound'), 'listeners');
    await sidecars[3].waitFor((d) => d.includes('"name": "9080"') && d.includes('outbound|9080|v2|reviews.default.svc.cluster.local'), 'routes and clusters for reviews');
  });

  after(async () => {
    for (const p of [...apps, ...sidecars.map((s) => s.proc)]) p.kill('SIGKILL');
    await mp?.stop();
    await net.teardown();
    cfg.remove();
    rmSync(work, { recursive: true, force: true });
  });

  it("routes the seed's way through the sidecars: jason → reviews v2, everyone else → v1 (100 requests each)", async () => {
    await eventually(async () => ((await loop('http://reviews:9080/', { 'end-user': 'jason' }, 1)).counts['reviews-v2'] ?? 0) === 1, 'first request through the mesh', 20_000);
    const jason = await loop('http://reviews:9080/', { 'end-user': 'jason' }, 100);
    assert.deepEqual(jason, { counts: { 'reviews-v2': 100 }, failures: [] });
    const others = await loop('http://reviews:9080/', { 'end-user': 'someone' }, 100);
    assert.deepEqual(others, { counts: { 'reviews-v1': 100 }, failures: [] });
    const fqdn = await loop('http://reviews.default.svc.cluster.local:9080/', {}, 10);
    assert.deepEqual(fqdn, { counts: { 'reviews-v1': 10 }, failures: [] });
    await assertNoNack();
  });

  it('inbound: requests to a pod pass through its sidecar (Envoy inbound stats count them)', async () => {
    const v2 = sidecars.find((s) => s.pod === 'reviews-v2')!;
    const before = (await v2.stats())['http.inbound_0.0.0.0_9080.downstream_rq_completed'] ?? 0;
    await loop('http://reviews:9080/', { 'end-user': 'jason' }, 10);
    const afterCount = (await v2.stats())['http.inbound_0.0.0.0_9080.downstream_rq_completed'] ?? 0;
    assert.ok(afterCount - before >= 10, `inbound stats grew by ${afterCount - before}`);
    const pp = sidecars.find((s) => s.pod === 'productpage')!;
    assert.ok(((await pp.stats())['http.outbound_0.0.0.0_9080.downstream_rq_completed'] ?? 0) >= 10, 'outbound stats count the calls');
  });

  it('shifts weights 50/50 then 0/100 while traffic flows, without a failed request', async () => {
    cfg.write('routing.yaml', reviewsRouting({ v1: 50, v3: 50 }));
    await eventually(async () => ((await loop('http://reviews:9080/', {}, 20)).counts['reviews-v3'] ?? 0) > 0, '50/50 applied');
    const half = await loop('http://reviews:9080/', {}, 200);
    assert.deepEqual(half.failures, []);
    assert.ok(half.counts['reviews-v1'] > 50 && half.counts['reviews-v3'] > 50, JSON.stringify(half.counts));
    cfg.write('routing.yaml', reviewsRouting({ v1: 0, v3: 100 }));
    const during = await loop('http://reviews:9080/', {}, 150);
    assert.deepEqual(during.failures, [], 'no request fails while the config changes');
    await eventually(async () => JSON.stringify((await loop('http://reviews:9080/', {}, 20)).counts) === '{"reviews-v3":20}', 'all traffic on v3');
    await assertNoNack();
    cfg.write('routing.yaml', reviewsRouting('seed'));
  });

  it('captureMode NONE: without iptables, the app calls the bound egress listener and clients reach the bound ingress listener', async () => {
    const legacy = sidecars.find((s) => s.pod === 'legacy')!;
    await legacy.waitFor((d) => d.includes('127.0.0.1_9080') && d.includes('0.0.0.0_9081'), 'bound listeners');
    const run = async (pod: string, url: string, headers: Record<string, string>, n: number) => {
      const r = await net.exec(pod, process.execPath, ['-e', HTTP_LOOP, url, JSON.stringify(headers), String(n)], { timeoutMs: 60_000 });
      return JSON.parse(r.stdout) as { counts: Record<string, number>; failures: string[] };
    };
    await eventually(async () => ((await run('legacy', 'http://127.0.0.1:9080/', { host: 'reviews.default', 'end-user': 'jason' }, 1)).counts['reviews-v2'] ?? 0) === 1, 'egress through the bound listener');
    assert.deepEqual(await run('legacy', 'http://127.0.0.1:9080/', { host: 'reviews.default', 'end-user': 'jason' }, 20), { counts: { 'reviews-v2': 20 }, failures: [] });
    assert.deepEqual(await run('legacy', 'http://127.0.0.1:9080/', { host: 'reviews.default.svc.cluster.local:9080' }, 20), { counts: { 'reviews-v1': 20 }, failures: [] });
    const inbound = await run('outside', `http://${net.pod('legacy').ip}:9081/`, {}, 10);
    assert.deepEqual(inbound, { counts: { legacy: 10 }, failures: [] });
    assert.ok(((await legacy.stats())['http.inbound_0.0.0.0_9081.downstream_rq_completed'] ?? 0) >= 10);
    await assertNoNack();
  });

  it('routes a TCP service by a TCPRoute with weights', async () => {
    const tcp = async (n: number) => {
      const r = await net.exec('productpage', process.execPath, ['-e', TCP_LOOP, 'mongodb', '27017', String(n)], { timeoutMs: 60_000 });
      return JSON.parse(r.stdout) as Record<string, number>;
    };
    const route = (v1: number, v2: number) => [{ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'mongodb', namespace: 'default' },
      spec: { hosts: ['mongodb'], tcp: [{ match: [{ port: 27017 }], route: [{ destination: { host: 'mongodb', subset: 'v1' }, weight: v1 }, { destination: { host: 'mongodb', subset: 'v2' }, weight: v2 }] }] } }];
    cfg.write('mongodb.yaml', route(0, 100));
    await eventually(async () => JSON.stringify(await tcp(10)) === '{"mongo-v2":10}', 'all TCP connections to v2');
    cfg.write('mongodb.yaml', route(70, 30));
    await eventually(async () => ((await tcp(10))['mongo-v1'] ?? 0) > 0, '70/30 applied');
    const split = await tcp(300);
    assert.deepEqual(Object.keys(split).sort(), ['mongo-v1', 'mongo-v2'], JSON.stringify(split));
    // n=300, p=0.7: sd ≈ 7.9; ±5 sd.
    assert.ok(split['mongo-v1'] >= 170 && split['mongo-v1'] <= 250, JSON.stringify(split));
    await assertNoNack();
  });

  it('a Sidecar with egress ./* shrinks the config, still serves what the pod needs; REGISTRY_ONLY blocks unknown addresses that ALLOW_ANY let through', async () => {
    const pp = sidecars.find((s) => s.pod === 'productpage')!;
    const size = async () => {
      const d = await mp.getJson<{ clusters: unknown[]; listeners: unknown[] }>(`/debug/config_dump?proxyID=${encodeURIComponent(pp.nodeId)}`);
      return { clusters: d.clusters.length, listeners: d.listeners.length, bytes: JSON.stringify(d).length };
    };
    const url = 'http://outside:8000/';
    await eventually(async () => ((await loop(url, {}, 1)).counts.outside ?? 0) === 1, 'passthrough to an address outside the registry');
    const before = await size();
    cfg.write('sidecar.yaml', [{ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'default' }, spec: { egress: [{ hosts: ['./*'] }], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } }]);
    await eventually(async () => ((await loop(url, {}, 1)).counts.outside ?? 0) === 0, 'blocked under REGISTRY_ONLY');
    const scoped = await size();
    process.stderr.write(`sidecar scoping: ${JSON.stringify(before)} -> ${JSON.stringify(scoped)}\n`);
    assert.ok(scoped.clusters < before.clusters - 50, `clusters ${before.clusters} -> ${scoped.clusters}`);
    assert.ok(scoped.bytes < before.bytes / 2, `bytes ${before.bytes} -> ${scoped.bytes}`);
    // Envoy's active clusters follow (a removed listener may drain for a while; its clusters go at once).
    const activeClusters = (dump: string) => {
      const cds = (JSON.parse(dump) as { configs: Array<Record<string, unknown>> }).configs.find((c) => String(c['@type']).endsWith('ClustersConfigDump')) as { dynamic_active_clusters?: Array<{ cluster: { name: string } }> } | undefined;
      return (cds?.dynamic_active_clusters ?? []).map((c) => c.cluster.name);
    };
    await pp.waitFor((d) => { const names = activeClusters(d); return names.length > 0 && !names.some((n) => n.includes('.other.svc')); }, 'scoped clusters applied in Envoy');
    const blocked = await loop(url, {}, 5);
    assert.equal(blocked.counts.outside, undefined, JSON.stringify(blocked));
    // Services in the registry still work.
    assert.deepEqual(await loop('http://reviews:9080/', { 'end-user': 'jason' }, 5), { counts: { 'reviews-v2': 5 }, failures: [] });
    await assertNoNack();
  });
});
