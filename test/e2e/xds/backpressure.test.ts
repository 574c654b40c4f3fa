/**
 * Failure test 4 with a real Envoy: proxies that stop reading their xDS stream — one State of the
 * World stream that also floods requests, one Delta stream flooding subscription changes — while a
 * mesh of 150 services × 20 endpoints changes again and again. meshpilot keeps a bounded send
 * queue per stream (the SotW one is reported blocked, with a handful of responses waiting; the
 * Delta one is given up once it holds too many), its memory stays bounded, and a real Envoy
 * gateway connected at the same time follows every change.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { TYPE_URLS } from '../../../src/translator/types.js';
import { decodeResource } from '../../../src/xds/encode.js';
import { startBackends, stopBackends, type Backend } from '../../helpers/backends.js';
import { nodeOf } from '../../helpers/ads-client.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { openUnreadStream, type UnreadStream } from '../../helpers/unread-stream.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, nacksIn, who } from '../gateway/fixture.js';

interface Syncz { id: string; types: Record<string, { lastNack?: unknown; versionSent?: string; versionAcked?: string }> }

const SERVICES = 150;
const ENDPOINTS = 20;
const ROUNDS = 8;
const STUCK_SOTW = 'sidecar~10.9.0.1~stuck-sotw.default~default.svc.cluster.local';
const STUCK_DELTA = 'sidecar~10.9.0.2~stuck-delta.default~default.svc.cluster.local';
const cluster = (i: number) => `outbound|80||svc-${i}.test.internal`;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Services whose 20 endpoints all move (new port) every round: every ClusterLoadAssignment changes. */
function mesh(round: number): unknown[] {
  return Array.from({ length: SERVICES }, (_, i) => ({
    apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: `svc-${i}`, namespace: 'default' },
    spec: {
      hosts: [`svc-${i}.test.internal`], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
      endpoints: Array.from({ length: ENDPOINTS }, (_, e) => ({ address: `127.1.${i}.${e + 1}`, ports: { http: 20_000 + round }, labels: { shard: `s${e % 4}` } })),
    },
  }));
}

describe('proxies that stop reading cannot stall others or grow meshpilot without bound', () => {
  const cfg = new ConfigDir();
  let backends: Backend[];
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;
  const stuck: UnreadStream[] = [];
  const syncz = () => mp.getJson<Syncz[]>('/debug/syncz');
  const metric = async (name: string) => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec((await mp.getText('/metrics')).body);
    return m ? Number(m[1]) : NaN;
  };

  const routes = (round: number): unknown[] => {
    const b = backends[round % 2];
    return [
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'web', namespace: 'default' }, spec: { hosts: ['web.test.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: b.host, ports: { http: b.port } }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' }, spec: { hosts: ['web.example.com'], gateways: ['gw'], http: [{ route: [{ destination: { host: 'web.test.internal', port: { number: 80 } } }] }] } },
    ];
  };

  before(async () => {
    backends = await startBackends(['a', 'b']);
    port = await freePort();
    cfg.write('mesh.yaml', mesh(0));
    cfg.write('web.yaml', routes(0));
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 20 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
  });

  after(async () => {
    try {
      assert.deepEqual(nacksIn(await syncz()), [], 'no NACK');
    } finally {
      for (const s of stuck) s.close();
      await envoy?.stop();
      await mp?.stop();
      await stopBackends(backends);
      cfg.remove();
    }
  });

  it('the gateway serves the first configuration', async () => {
    await envoy.waitReady(30_000);
    await eventually(async () => (await who(port, 'web.example.com')) === 'a', 'traffic to a', 20_000);
  });

  it('two proxies that never read, one flooding requests: the gateway follows every change; queues stay bounded', async () => {
    const rss0 = rssMiB(mp.proc.pid!);
    // A sidecar that subscribes to everything (CDS, LDS, EDS for all 150 services), then floods
    // requests that each demand a full CDS answer, and never reads anything.
    const sotw = openUnreadStream(mp.xdsAddress, 'StreamAggregatedResources');
    stuck.push(sotw);
    sotw.send({ node: nodeOf(STUCK_SOTW), typeUrl: TYPE_URLS.clusters });
    sotw.send({ typeUrl: TYPE_URLS.listeners });
    sotw.send({ typeUrl: TYPE_URLS.endpoints, resourceNames: Array.from({ length: SERVICES }, (_, i) => cluster(i)) });
    // A Delta sidecar that keeps unsubscribing and resubscribing one service's endpoints (each
    // subscription is answered) without reading.
    const delta = openUnreadStream(mp.xdsAddress, 'DeltaAggregatedResources');
    stuck.push(delta);
    delta.send({ node: nodeOf(STUCK_DELTA), typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: [cluster(1)] });
    await eventually(async () => (await syncz()).some((p) => p.id === STUCK_DELTA) && (await syncz()).some((p) => p.id === STUCK_SOTW), 'both stuck proxies connected', 10_000);

    for (let round = 1; round <= ROUNDS; round++) {
      for (let i = 0; i < 250; i++) sotw.send({ typeUrl: TYPE_URLS.clusters });
      for (let i = 0; i < 100; i++) {
        delta.send({ typeUrl: TYPE_URLS.endpoints, resourceNamesUnsubscribe: [cluster(1)] });
        delta.send({ typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: [cluster(1)] });
      }
      cfg.write('mesh.yaml', mesh(round));
      cfg.write('web.yaml', routes(round));
      const expected = backends[round % 2].name;
      await eventually(async () => (await who(port, 'web.example.com')) === expected, `round ${round}: the gateway routes to ${expected}`, 30_000);
    }
    // The Delta stream that piled up unread responses was given up; the SotW one stays open with
    // its pushes deferred (at most one held response per type, plus what gRPC already buffered).
    await mp.waitForLog((e) => e.msg === 'ending a delta stream that does not read its responses' && e.proxy === STUCK_DELTA, 20_000);
    await eventually(async () => !(await syncz()).some((p) => p.id === STUCK_DELTA), 'the Delta stream is gone', 10_000);
    assert.equal(await metric('meshpilot_xds_send_queue_blocked_streams'), 1, 'one stream (the stuck SotW sidecar) is backed up');
    const queued = await metric('meshpilot_xds_send_queue_responses');
    assert.ok(queued >= 1 && queued <= 16 + 5, `responses waiting over all streams: ${queued} (2,000 requests were answered)`);
    const rss1 = rssMiB(mp.proc.pid!);
    assert.ok(rss1 - rss0 < 300, `meshpilot RSS grew ${(rss1 - rss0).toFixed(0)} MiB (${rss0.toFixed(0)} → ${rss1.toFixed(0)} MiB)`);

    // The gateway is in sync; the stuck sidecar is not (it never acknowledged anything).
    await eventually(async () => {
      const gw = (await syncz()).find((p) => p.id === GATEWAY_NODE)!;
      return Object.values(gw.types).every((t) => t.versionAcked === t.versionSent);
    }, 'the gateway acknowledged everything', 10_000);
    const stuckSt = (await syncz()).find((p) => p.id === STUCK_SOTW)!;
    assert.notEqual(stuckSt.types.clusters.versionAcked, stuckSt.types.clusters.versionSent);
    const rejected = await envoy.stats('update_rejected');
    assert.deepEqual(Object.entries(rejected).filter(([, v]) => v > 0), [], 'Envoy rejected no update');
  });

  it('the stuck SotW sidecar, once it reads again, is sent the latest configuration; then nothing is backed up', async () => {
    const received = stuck[0].resume();
    const latest = (typeUrl: string) => received.filter((r) => r.typeUrl === typeUrl).pop() as { versionInfo: string; resources: Array<{ value: Uint8Array }> } | undefined;
    const portsIn = (eds: { resources: Array<{ value: Uint8Array }> } | undefined) =>
      [...new Set((eds?.resources ?? []).flatMap((a) => JSON.stringify(decodeResource('endpoints', a.value)).match(/"portValue":\d+/g) ?? []))];
    // What was waiting in gRPC's buffer arrives first (round 0), then the deferred push: the latest.
    await eventually(async () => portsIn(latest(TYPE_URLS.endpoints)).join() === `"portValue":${20_000 + ROUNDS}`, 'the endpoints of the last round arrive', 20_000);
    const eds = latest(TYPE_URLS.endpoints)!;
    assert.equal(eds.resources.length, SERVICES, 'the full set of subscribed endpoints');
    await eventually(async () => {
      const st = (await syncz()).find((p) => p.id === STUCK_SOTW)!;
      return latest(TYPE_URLS.clusters)?.versionInfo === st.types.clusters.versionSent && latest(TYPE_URLS.endpoints)?.versionInfo === st.types.endpoints.versionSent;
    }, 'the last CDS and EDS responses received are the latest sent', 20_000);
    await eventually(async () => (await metric('meshpilot_xds_send_queue_blocked_streams')) === 0 && (await metric('meshpilot_xds_send_queue_responses')) === 0, 'no stream backed up', 10_000);
  });
});
