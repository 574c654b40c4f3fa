/**
 * `meshpilot explain` for a sidecar, checked against a real Envoy sidecar in a pod network
 * namespace (iptables capture, virtualOutbound): HTTP routes by header, path regex and weights, a
 * TCP service by its VIP, and a destination outside the mesh (PassthroughCluster). The pod that
 * answered must be one explain predicted.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Explanation } from '../../../src/explain/http.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { PodNetwork, podNetworkUnsupportedReason } from '../../helpers/pod-network.js';
import { HTTP_APP, HTTP_LOOP, startSidecar, type Sidecar } from '../../helpers/sidecar.js';
import { ConfigDir, eventually, nacksIn } from '../gateway/fixture.js';

const run = promisify(execFile);
const MAIN = resolve('dist/src/cli/main.js');

const unsupported = podNetworkUnsupportedReason();
if (unsupported) throw new Error(`sidecar tests need a pod network: ${unsupported}`);

describe('meshpilot explain predicts what a real Envoy sidecar does', () => {
  const net = new PodNetwork();
  const cfg = new ConfigDir();
  const work = mkdtempSync(join(tmpdir(), 'meshpilot-explain-'));
  chmodSync(work, 0o755);
  const apps: ChildProcess[] = [];
  let sidecar: Sidecar;
  let mp: MeshpilotProcess;
  const pods = ['client', 'reviews-v1', 'reviews-v2', 'db', 'outside'];

  async function loop(url: string, headers: Record<string, string>, count: number): Promise<Record<string, number>> {
    const r = await net.exec('client', process.execPath, ['-e', HTTP_LOOP, url, JSON.stringify(headers), String(count)], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`client failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { counts: Record<string, number> }).counts;
  }

  async function explain(args: string[]): Promise<Explanation> {
    const { stdout } = await run(process.execPath, [MAIN, 'explain', '--config-dir', cfg.dir, '--node-id', sidecar.nodeId, '-o', 'json', ...args], { timeout: 30_000 });
    return JSON.parse(stdout) as Explanation;
  }

  /** Pods explain says can answer: endpoints by IP, or the original destination for PassthroughCluster. */
  function predictedPods(e: Explanation, originalDst?: string): string[] {
    const out = new Set<string>();
    if (e.outcome.kind !== 'route' && e.outcome.kind !== 'tcp') return [];
    for (const c of e.outcome.clusters) {
      if (c.type === 'ORIGINAL_DST' && originalDst) out.add(pods.find((p) => net.pod(p).ip === originalDst) ?? originalDst);
      for (const ep of c.endpoints) out.add(pods.find((p) => net.pod(p).ip === ep.address) ?? ep.address);
    }
    return [...out].sort();
  }

  before(async () => {
    await net.setup();
    for (const p of pods) await net.addPod(p);
    const reviewsVip = net.serviceIp(10);
    const dbVip = net.serviceIp(20);
    net.addHost('reviews', reviewsVip);
    net.addHost('db', dbVip);
    const pod = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels }, status: { podIP: net.pod(name).ip } });
    const slice = (svc: string, port: { name: string; port: number }, names: string[]) => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${svc}-abc`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } }, addressType: 'IPv4',
      ports: [{ ...port, protocol: 'TCP' }], endpoints: names.map((n) => ({ addresses: [net.pod(n).ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: n, namespace: 'default' } })) });
    cfg.write('services.yaml', [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews', namespace: 'default' }, spec: { clusterIP: reviewsVip, ports: [{ name: 'http', port: 9080 }] } },
      slice('reviews', { name: 'http', port: 9080 }, ['reviews-v1', 'reviews-v2']),
      // An opaque TCP port: the sidecar proxies it with tcp_proxy on the VIP's own listener.
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: 'default' }, spec: { clusterIP: dbVip, ports: [{ name: 'tcp-db', port: 5432 }] } },
      slice('db', { name: 'tcp-db', port: 5432 }, ['db']),
      pod('reviews-v1', { app: 'reviews', version: 'v1' }), pod('reviews-v2', { app: 'reviews', version: 'v2' }), pod('db', { app: 'db' }), pod('client', { app: 'client' }),
    ]);
    cfg.write('routing.yaml', [
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'default' }, spec: { host: 'reviews', subsets: ['v1', 'v2'].map((v) => ({ name: v, labels: { version: v } })) } },
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default' }, spec: { hosts: ['reviews'], http: [
        { name: 'jason', match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
        { name: 'v1-paths', match: [{ uri: { regex: '/v1/[a-z]+' } }], route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
        { name: 'split', route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 50 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 50 }] },
      ] } },
    ]);
    const xdsSocket = join(work, 'xds.sock');
    mp = await startMeshpilot({ configDir: cfg.dir, xdsAddress: `unix://${xdsSocket}`, debounceMs: 50 });
    for (const [p, port] of [['reviews-v1', 9080], ['reviews-v2', 9080], ['db', 5432], ['outside', 8000]] as const) {
      apps.push(net.spawn(p, process.execPath, ['-e', HTTP_APP, p, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }));
    }
    sidecar = await startSidecar(net, { pod: 'client', labels: { app: 'client' }, xdsSocket, workDir: work });
    await sidecar.waitFor((d) => d.includes('virtualOutbound') && d.includes('outbound|9080|v2|reviews.default.svc.cluster.local'), 'outbound config');
    await eventually(async () => ((await loop('http://reviews:9080/', { 'end-user': 'jason' }, 1))['reviews-v2'] ?? 0) === 1, 'first request through the sidecar', 30_000);
  });

  after(async () => {
    for (const p of [...apps, ...(sidecar ? [sidecar.proc] : [])]) p.kill('SIGKILL');
    await mp?.stop();
    await net.teardown();
    cfg.remove();
    rmSync(work, { recursive: true, force: true });
  });

  const httpCases: Array<{ what: string; path: string; headers: Record<string, string>; route: string }> = [
    { what: 'header match', path: '/', headers: { 'end-user': 'jason' }, route: 'jason' },
    { what: 'path regex', path: '/v1/abc', headers: {}, route: 'v1-paths' },
    { what: 'regex must match the whole path: falls through to the split', path: '/v1/abc/def', headers: {}, route: 'split' },
  ];
  for (const c of httpCases) {
    it(`HTTP service by name: ${c.what}`, async () => {
      const e = await explain(['GET', `http://reviews:9080${c.path}`, ...Object.entries(c.headers).flatMap(([k, v]) => ['-H', `${k}:${v}`])]);
      assert.equal(e.listener?.name, '0.0.0.0_9080');
      assert.equal(e.route?.name, c.route);
      assert.equal(e.virtualService, 'VirtualService default/reviews');
      const expected = predictedPods(e);
      const counts = await loop(`http://reviews:9080${c.path}`, c.headers, expected.length > 1 ? 40 : 5);
      assert.deepEqual(Object.keys(counts).sort(), expected, `answered ${JSON.stringify(counts)}, explained ${expected.join(',')}\n${e.steps.join('\n')}`);
    });
  }

  it('TCP service by its VIP: VIP_PORT listener and tcp_proxy to the predicted pod', async () => {
    const vip = net.serviceIp(20);
    const e = await explain(['--address', vip, 'http://db:5432/']);
    assert.equal(e.listener?.name, `${vip}_5432`);
    assert.equal(e.outcome.kind, 'tcp');
    assert.deepEqual(predictedPods(e), ['db']);
    assert.deepEqual(await loop('http://db:5432/', {}, 3), { db: 3 });
  });

  it('a destination outside the mesh: virtualOutbound passes it through to where it was going', async () => {
    const ip = net.pod('outside').ip;
    const e = await explain([`http://${ip}:8000/`]);
    assert.equal(e.listener?.name, 'virtualOutbound');
    assert.equal(e.outcome.kind, 'tcp');
    assert.deepEqual(predictedPods(e, ip), ['outside']);
    assert.deepEqual(await loop(`http://${ip}:8000/`, {}, 3), { outside: 3 });
  });

  it('--server agrees with --config-dir for this sidecar; no NACK', async () => {
    const admin = mp.adminUrl.replace(/^http:\/\//, '');
    const args = ['GET', 'http://reviews:9080/', '-H', 'end-user:jason'];
    const offline = await explain(args);
    const { stdout } = await run(process.execPath, [MAIN, 'explain', '--server', admin, '--node-id', sidecar.nodeId, '-o', 'json', ...args], { timeout: 30_000 });
    assert.deepEqual(JSON.parse(stdout), offline);
    assert.deepEqual(nacksIn(await mp.getJson<Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>>('/debug/syncz')), []);
  });
});
