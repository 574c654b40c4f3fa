/**
 * Proxyless gRPC: a real grpc-js client with @grpc/grpc-js-xds resolves xds:///HOST:PORT through
 * meshpilot (bootstrap written by `meshpilot bootstrap --grpc`) and calls real grpc-js servers on
 * 127.0.0.x. Each VirtualService / DestinationRule feature is shown by which server answered and
 * what status the client got; the client's xDS state is read from meshpilot's /debug/syncz and from
 * the client's own CSDS service.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { ConfigDir, eventually, nacksIn } from '../gateway/fixture.js';
import { echo, echoMany, EchoClient, fetchClientStatus, grpcService, GrpcBackend, tally, type EchoClientInstance } from './fixture.js';

const NODE_ID = 'sidecar~127.0.0.1~grpc-client-0.default~default.svc.cluster.local';
const FQDN = (name: string) => `${name}.default.svc.cluster.local`;

interface SyncType { subscribed: string[] | '*'; versionSent?: string; versionAcked?: string; lastNack?: unknown }
interface Syncz { id: string; types: Record<string, SyncType> }

describe('proxyless gRPC clients through meshpilot', () => {
  const cfg = new ConfigDir();
  const tmp = mkdtempSync(join(tmpdir(), 'meshpilot-grpc-'));
  const v1 = new GrpcBackend('v1', '127.0.0.2');
  const v2 = new GrpcBackend('v2', '127.0.0.3');
  const faulty = new GrpcBackend('faulty', '127.0.0.4');
  const flaky = new GrpcBackend('flaky', '127.0.0.5');
  const sticky = [new GrpcBackend('s1', '127.0.0.6'), new GrpcBackend('s2', '127.0.0.7'), new GrpcBackend('s3', '127.0.0.8')];
  const od = [new GrpcBackend('o1', '127.0.0.9'), new GrpcBackend('o2', '127.0.0.10'), new GrpcBackend('bad', '127.0.0.11')];
  const all = [v1, v2, faulty, flaky, ...sticky, ...od];
  const clients: EchoClientInstance[] = [];
  let mp: MeshpilotProcess;
  let admin: grpc.Server | undefined;

  const client = (target: string): EchoClientInstance => {
    const c = new EchoClient(target, grpc.credentials.createInsecure());
    clients.push(c);
    return c;
  };

  before(async () => {
    await Promise.all(all.map((b) => b.start()));
    // Every other call to "flaky" fails UNAVAILABLE; "bad" fails every call INTERNAL (not retried by default).
    flaky.fail = (n) => (n % 2 === 1 ? grpc.status.UNAVAILABLE : undefined);
    od[2].fail = () => grpc.status.INTERNAL;
    const vs = (name: string, http: unknown[]) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts: [name], http } });
    const dr = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default' }, spec: { host: name, ...spec } });
    const dest = (host: string, subset?: string) => ({ destination: { host, ...(subset ? { subset } : {}) } });
    cfg.write('services.yaml', [
      ...grpcService('echo', 7070, [{ backend: v1, labels: { version: 'v1' } }, { backend: v2, labels: { version: 'v2' } }]),
      ...grpcService('faulty', 7071, [{ backend: faulty }]),
      ...grpcService('flaky', 7072, [{ backend: flaky }]),
      ...grpcService('flaky-noretry', 7073, [{ backend: flaky }]),
      ...grpcService('sticky', 7074, sticky.map((backend) => ({ backend }))),
      ...grpcService('od', 7075, od.map((backend) => ({ backend }))),
    ]);
    cfg.write('rules.yaml', [
      dr('echo', { subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] }),
      vs('echo', [
        { name: 'jason', match: [{ headers: { 'x-user': { exact: 'jason' } } }], route: [dest('echo', 'v2')] },
        { name: 'split', route: [{ ...dest('echo', 'v1'), weight: 75 }, { ...dest('echo', 'v2'), weight: 25 }] },
      ]),
      vs('faulty', [
        { name: 'abort', match: [{ headers: { 'x-fault': { exact: 'abort' } } }], fault: { abort: { grpcStatus: 'ABORTED', percentage: { value: 50 } } }, route: [dest('faulty')] },
        { name: 'delay', match: [{ headers: { 'x-fault': { exact: 'delay' } } }], fault: { delay: { fixedDelay: '600ms', percentage: { value: 100 } } }, route: [dest('faulty')] },
        { name: 'plain', route: [dest('faulty')] },
      ]),
      vs('flaky', [{ route: [dest('flaky')], retries: { attempts: 3, retryOn: 'unavailable' } }]),
      vs('flaky-noretry', [{ route: [dest('flaky-noretry')], retries: { attempts: 0 } }]),
      dr('sticky', { trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-session' } } } }),
      dr('od', { trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3, interval: '1s', baseEjectionTime: '60s', maxEjectionPercent: 50 } } }),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    // The bootstrap the user would write: `meshpilot bootstrap --grpc`.
    const bootstrap = join(tmp, 'grpc-bootstrap.json');
    execFileSync(process.execPath, [resolve('dist/src/cli/main.js'), 'bootstrap', '--grpc', '--node-id', NODE_ID, '--xds-address', mp.xdsAddress, '-o', bootstrap]);
    process.env.GRPC_XDS_BOOTSTRAP = bootstrap;
    grpcXds.register();
  });

  after(async () => {
    for (const c of clients) c.close();
    admin?.forceShutdown();
    await mp?.stop();
    await Promise.all(all.map((b) => b.stop()));
    cfg.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('`meshpilot bootstrap --grpc` writes a gRPC xDS bootstrap that marks the node as proxyless', () => {
    const b = JSON.parse(readFileSync(process.env.GRPC_XDS_BOOTSTRAP!, 'utf8')) as { xds_servers: Array<{ server_uri: string; channel_creds: unknown[]; server_features: string[] }>; node: { id: string; metadata: Record<string, unknown> } };
    assert.equal(b.xds_servers[0].server_uri, mp.xdsAddress);
    assert.deepEqual(b.xds_servers[0].channel_creds, [{ type: 'insecure' }]);
    assert.deepEqual(b.xds_servers[0].server_features, ['xds_v3']);
    assert.equal(b.node.id, NODE_ID);
    assert.equal(b.node.metadata.GENERATOR, 'grpc');
  });

  it('resolves xds:///FQDN:PORT and the short names Istio serves (name, name.namespace)', async () => {
    for (const target of [`xds:///${FQDN('echo')}:7070`, 'xds:///echo:7070', 'xds:///echo.default:7070']) {
      const c = client(target);
      const r = await echo(c, { 'x-user': 'jason' }, 20_000);
      assert.deepEqual({ target, ok: r.ok, server: r.server }, { target, ok: true, server: 'v2' });
    }
  });

  it('weighted routing: VirtualService weights 75/25 over 400 calls', async () => {
    const c = client(`xds:///${FQDN('echo')}:7070`);
    const results = await echoMany(c, 400);
    const t = tally(results);
    assert.equal((t.v1 ?? 0) + (t.v2 ?? 0), 400, JSON.stringify(t));
    // Binomial(400, 0.25): sd ≈ 8.7 → ±35 is 4 sd.
    assert.ok(Math.abs((t.v2 ?? 0) - 100) <= 35, `v2 got ${t.v2} of 400, expected about 100: ${JSON.stringify(t)}`);
  });

  it('header matching: metadata x-user: jason routes to subset v2, others split', async () => {
    const c = client(`xds:///${FQDN('echo')}:7070`);
    assert.deepEqual(tally(await echoMany(c, 40, { 'x-user': 'jason' })), { v2: 40 });
    const others = tally(await echoMany(c, 40, { 'x-user': 'someone' }));
    assert.ok((others.v1 ?? 0) > 0, JSON.stringify(others));
  });

  it('fault injection: abort with a gRPC status on 50 % of calls, and a fixed delay', async () => {
    const c = client(`xds:///${FQDN('faulty')}:7071`);
    await echo(c, {}, 20_000);
    const before = faulty.calls;
    const results = await echoMany(c, 300, { 'x-fault': 'abort' });
    const t = tally(results);
    const aborted = t['status ABORTED'] ?? 0;
    assert.equal(aborted + (t.faulty ?? 0), 300, JSON.stringify(t));
    // Binomial(300, 0.5): sd ≈ 8.7 → ±35 is 4 sd. Aborted calls never reach the server.
    assert.ok(Math.abs(aborted - 150) <= 35, `aborted ${aborted} of 300: ${JSON.stringify(t)}`);
    assert.equal(faulty.calls - before, t.faulty);

    const delayed = await echoMany(c, 5, { 'x-fault': 'delay' }, 5);
    for (const r of delayed) assert.ok(r.ok && r.ms >= 550, `delayed call took ${r.ms} ms (ok=${r.ok})`);
    const plain = await echoMany(c, 5, {}, 5);
    for (const r of plain) assert.ok(r.ok, 'plain call failed');
    assert.ok(Math.min(...plain.map((r) => r.ms)) < 550, `plain calls were slow too: ${plain.map((r) => r.ms).join(',')}`);
  });

  it('retries: retryOn unavailable hides a server failing every other call; attempts 0 does not', async () => {
    const withRetry = client(`xds:///${FQDN('flaky')}:7072`);
    await eventually(async () => (await echo(withRetry, {}, 20_000)).ok, 'flaky reachable');
    const start = flaky.calls;
    const retried = tally(await echoMany(withRetry, 40, {}, 1));
    assert.deepEqual(retried, { flaky: 40 });
    assert.ok(flaky.calls - start >= 55, `the server saw ${flaky.calls - start} calls for 40 RPCs: retries expected`);

    const noRetry = client(`xds:///${FQDN('flaky-noretry')}:7073`);
    await eventually(async () => (await echo(noRetry, {}, 20_000)).ok, 'flaky-noretry answers');
    const plain = tally(await echoMany(noRetry, 40, {}, 1));
    // One call per RPC, alternating outcome: exactly half fail.
    assert.deepEqual(plain, { flaky: 20, 'status UNAVAILABLE': 20 });
  });

  it('ring hash: DestinationRule consistentHash by header keeps each session on one server', async () => {
    const c = client(`xds:///${FQDN('sticky')}:7074`);
    // 48 sessions: the ring places servers by their address (a free port each run), so with a dozen
    // one server could own none of them (and would never be reached) in some runs.
    const sessions = Array.from({ length: 48 }, (_, i) => `session-${i}`);
    // Warm-up: ring hash connects endpoints lazily; until they are READY a pick may fall through.
    await eventually(async () => {
      for (const s of sessions) await echo(c, { 'x-session': s });
      return sticky.every((b) => b.calls > 0);
    }, 'every sticky server connected', 30_000);
    const owners = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++) {
      for (const s of sessions) {
        const r = await echo(c, { 'x-session': s });
        assert.ok(r.ok, `call for ${s} failed`);
        (owners.get(s) ?? owners.set(s, new Set()).get(s)!).add(r.server!);
      }
    }
    for (const [s, servers] of owners) assert.equal(servers.size, 1, `${s} went to ${[...servers].join(', ')}`);
    const used = new Set([...owners.values()].flatMap((x) => [...x]));
    assert.ok(used.size >= 2, `${sessions.length} sessions all hashed to ${[...used].join(', ')}`);
  });

  it('outlier detection: a server failing every call is ejected and traffic avoids it', async () => {
    const c = client(`xds:///${FQDN('od')}:7075`);
    let failuresSeen = 0;
    await eventually(async () => {
      const badBefore = od[2].calls;
      const t = tally(await echoMany(c, 30));
      failuresSeen += t['status INTERNAL'] ?? 0;
      return (t.o1 ?? 0) + (t.o2 ?? 0) === 30 && od[2].calls === badBefore;
    }, 'a batch of 30 calls all answered by healthy servers', 30_000);
    assert.ok(failuresSeen > 0, 'the failing server never received traffic: nothing to eject');
    // Still ejected (baseEjectionTime 60 s): another batch avoids it.
    const badBefore = od[2].calls;
    const t = tally(await echoMany(c, 30));
    assert.equal((t.o1 ?? 0) + (t.o2 ?? 0), 30, JSON.stringify(t));
    assert.equal(od[2].calls, badBefore);
  });

  it('sync state: every type ACKed and no NACK in /debug/syncz; the client\'s CSDS shows the same resources ACKED', async () => {
    const mine = async () => (await mp.getJson<Syncz[]>('/debug/syncz')).find((p) => p.id === NODE_ID);
    await eventually(async () => {
      const p = await mine();
      return !!p && ['listeners', 'routes', 'clusters', 'endpoints'].every((k) => p.types[k]?.versionSent && p.types[k].versionAcked === p.types[k].versionSent);
    }, 'all four types ACKed');
    const p = (await mine())!;
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
    // The client asked for exactly what it resolves (named subscriptions, no wildcard).
    const lds = p.types.listeners.subscribed;
    assert.ok(Array.isArray(lds) && lds.includes(`${FQDN('echo')}:7070`) && lds.includes('echo:7070') && lds.includes('echo.default:7070'), JSON.stringify(lds));
    assert.ok(Array.isArray(p.types.routes.subscribed) && p.types.routes.subscribed.includes(`outbound|7070||${FQDN('echo')}`), JSON.stringify(p.types.routes.subscribed));
    const cds = p.types.clusters.subscribed;
    assert.ok(Array.isArray(cds) && cds.includes(`outbound|7070|v1|${FQDN('echo')}`) && cds.includes(`outbound|7070|v2|${FQDN('echo')}`), JSON.stringify(cds));

    admin = new grpc.Server();
    grpc.addAdminServicesToServer(admin);
    const port = await new Promise<number>((res, rej) => admin!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, pt) => (e ? rej(e) : res(pt))));
    const csds = await fetchClientStatus(`127.0.0.1:${port}`);
    const status = (type: string, name: string) => csds.find((r) => r.type_url.endsWith(type) && r.name === name)?.client_status;
    assert.equal(status('Listener', `${FQDN('echo')}:7070`), 'ACKED');
    assert.equal(status('Listener', 'echo:7070'), 'ACKED');
    assert.equal(status('RouteConfiguration', `outbound|7070||${FQDN('echo')}`), 'ACKED');
    assert.equal(status('Cluster', `outbound|7070|v2|${FQDN('echo')}`), 'ACKED');
    assert.equal(status('ClusterLoadAssignment', `outbound|7070|v2|${FQDN('echo')}`), 'ACKED');
    assert.deepEqual(csds.filter((r) => r.client_status === 'NACKED').map((r) => r.name), []);
  });
});
