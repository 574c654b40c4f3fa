/** The SotW bookkeeping of one ADS stream, driven by hand-written DiscoveryRequests (no network). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { TYPE_URLS, type XdsResources } from '../../../src/translator/types.js';
import { AdsConnection, EncodeCache, mentionsName } from '../../../src/xds/connection.js';
import { Debouncer, mergePushRequests, type DebounceClock } from '../../../src/xds/debounce.js';
import type { DiscoveryResponse } from '../../../src/xds/service.js';
import { parseNodeId } from '../../../src/proxy/node.js';

function resources(timeoutSeconds: number, extraCla = false): XdsResources {
  const cla = (name: string) => ({ name, value: { clusterName: name, endpoints: [] } });
  return {
    listeners: [], routes: [], secrets: [],
    clusters: [{ name: 'c1', value: { name: 'c1', type: 'EDS', connectTimeout: { seconds: timeoutSeconds, nanos: 0 }, edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: 'c1' } } }],
    endpoints: extraCla ? [cla('c1'), cla('c2')] : [cla('c1')],
  };
}

function setup() {
  const sent: DiscoveryResponse[] = [];
  const metrics = createMetrics();
  const conn = new AdsConnection(7, (r) => sent.push(r), new EncodeCache(), silentLogger, metrics);
  const p = parseNodeId('router~1.2.3.4~gw.ns~ns.svc.cluster.local');
  assert.ok(p.ok);
  conn.proxy = p.value;
  return { sent, conn, metrics };
}

describe('AdsConnection', () => {
  it('answers the initial request, treats a matching nonce as ACK and does not resend unchanged content', () => {
    const { sent, conn } = setup();
    conn.setResources(resources(1));
    conn.onRequest({ typeUrl: TYPE_URLS.clusters });
    assert.equal(sent.length, 1);
    assert.equal(sent[0].resources.length, 1);
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[0].nonce, versionInfo: sent[0].versionInfo });
    assert.equal(conn.status().types.clusters?.versionAcked, sent[0].versionInfo);
    conn.setResources(resources(1));
    assert.equal(conn.pushAll(), 0, 'same content, no push');
    conn.setResources(resources(2));
    assert.equal(conn.pushAll(), 1);
    assert.notEqual(sent[1].versionInfo, sent[0].versionInfo);
  });

  it('sends only the names an EDS subscription asks for and follows subscription changes', () => {
    const { sent, conn } = setup();
    conn.setResources(resources(1, true));
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNames: ['c1'] });
    assert.equal(sent[0].resources.length, 1);
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNames: ['c1', 'c2'], responseNonce: sent[0].nonce, versionInfo: sent[0].versionInfo });
    assert.equal(sent.length, 2);
    assert.equal(sent[1].resources.length, 2);
  });

  it('EDS: once everything sent is ACKed, a change sends only the changed ClusterLoadAssignments; before the ACK, all of them', () => {
    const { sent, conn } = setup();
    const cla = (name: string, port: number) => ({ name, value: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: port } } } }] }] } });
    const withClas = (ports: number[]) => ({ ...resources(1), endpoints: ports.map((p, i) => cla(`c${i + 1}`, p)) });
    const names = ['c1', 'c2', 'c3'];
    const decodeNames = (r: DiscoveryResponse) => r.resources.length;
    conn.setResources(withClas([81, 82, 83]));
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNames: names });
    assert.equal(decodeNames(sent[0]), 3, 'the first answer is complete');
    // Not ACKed yet: a change resends everything.
    conn.setResources(withClas([81, 92, 83]));
    assert.equal(conn.pushAll(), 1);
    assert.equal(decodeNames(sent[1]), 3, 'previous response unacknowledged: full set');
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNames: names, responseNonce: sent[1].nonce, versionInfo: sent[1].versionInfo });
    // ACKed: one CLA changes, only it is sent, under a new version.
    conn.setResources(withClas([81, 92, 93]));
    assert.equal(conn.pushAll(), 1);
    assert.equal(decodeNames(sent[2]), 1, 'only the changed ClusterLoadAssignment');
    assert.notEqual(sent[2].versionInfo, sent[1].versionInfo);
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNames: names, responseNonce: sent[2].nonce, versionInfo: sent[2].versionInfo });
    assert.equal(conn.status().types.endpoints?.versionAcked, sent[2].versionInfo);
    // A new subscription is answered in full.
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNames: ['c1', 'c2'], responseNonce: sent[2].nonce, versionInfo: sent[2].versionInfo });
    assert.equal(decodeNames(sent[3]), 2);
  });

  it('records a NACK, keeps the ACKed version, never resends the rejected version', () => {
    const { sent, conn, metrics } = setup();
    conn.setResources(resources(1));
    conn.onRequest({ typeUrl: TYPE_URLS.clusters });
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[0].nonce, versionInfo: sent[0].versionInfo });
    conn.setResources(resources(3));
    conn.pushAll();
    const rejected = sent[1];
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: rejected.nonce, versionInfo: sent[0].versionInfo, errorDetail: { code: 3, message: 'bad cluster c1' } });
    const st = conn.status().types.clusters!;
    assert.equal(st.versionAcked, sent[0].versionInfo);
    assert.deepEqual([st.lastNack?.version, st.lastNack?.message], [rejected.versionInfo, 'bad cluster c1']);
    conn.setResources(resources(3));
    assert.equal(conn.pushAll(), 0, 'the rejected content is not sent again');
    conn.setResources(resources(4));
    assert.equal(conn.pushAll(), 1, 'new content is');
    return metrics.registry.getSingleMetricAsString('meshpilot_xds_nacks_total').then((m) => assert.match(m, /type="clusters"\} 1/));
  });

  it("names rejected resources only where Envoy's message names them whole", () => {
    assert.equal(mentionsName("Error adding/updating cluster(s) outbound|80||a.test.internal: bad", 'outbound|80||a.test.internal'), true);
    assert.equal(mentionsName("cluster 'c10' rejected", 'c1'), false, 'c1 is not c10');
    assert.equal(mentionsName('a bad listener', 'bad'), true);
    assert.equal(mentionsName('badly formed', 'bad'), false);
    assert.equal(mentionsName('rejected: kubernetes://gw-cert.', 'kubernetes://gw-cert'), true);
    assert.equal(mentionsName('rejected: kubernetes://gw-cert.old', 'kubernetes://gw-cert'), false);
    assert.equal(mentionsName("route http.8080 invalid (in 'http.80801')", 'http.8080'), true);
    assert.equal(mentionsName('outbound|80||a.test.internal2 failed', 'outbound|80||a.test.internal'), false);
    const { sent, conn } = setup();
    conn.setResources(resources(1, true));
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNames: ['c1', 'c2'] });
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, responseNonce: sent[0].nonce, resourceNames: ['c1', 'c2'], errorDetail: { code: 3, message: "ClusterLoadAssignment 'c2': invalid (c10 unknown)" } });
    assert.deepEqual(conn.status().types.endpoints?.nackedResources?.map((r) => r.name), ['c2']);
  });

  it('serialises equal resources once across connections (cache keyed by type, name and content hash)', () => {
    const cache = new EncodeCache();
    const sent: DiscoveryResponse[][] = [[], []];
    const conns = sent.map((out, i) => {
      const c = new AdsConnection(i, (r) => out.push(r), cache, silentLogger, createMetrics());
      const p = parseNodeId(`router~1.2.3.${i}~gw${i}.ns~ns.svc.cluster.local`);
      assert.ok(p.ok);
      c.proxy = p.value;
      c.setResources(resources(1));
      c.onRequest({ typeUrl: TYPE_URLS.clusters });
      return c;
    });
    assert.equal(conns.length, 2);
    assert.equal(sent[0][0].resources[0], sent[1][0].resources[0], 'the same encoded Any object');
    assert.equal(sent[0][0].versionInfo, sent[1][0].versionInfo, 'equal content, equal version');
    const a = cache.get('clusters', resources(2).clusters[0], 'h2');
    assert.notEqual(a, sent[0][0].resources[0]);
  });

  it('keeps many contents under one name, and a bounded number of bytes (least recently used go)', () => {
    const cla = (name: string, port: number) => ({ name, value: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: port } } } }] }] } });
    const cache = new EncodeCache(10_000);
    const first = cache.get('endpoints', cla('c1', 1), 'v1');
    for (let v = 2; v <= 20; v++) cache.get('endpoints', cla('c1', v), `v${v}`);
    assert.equal(cache.get('endpoints', cla('c1', 1), 'v1'), first, 'twenty contents of one name are all kept');
    for (let i = 0; i < 2000; i++) cache.get('endpoints', cla(`n${i}`, 80), 'v1');
    assert.ok(cache.size <= 10_000, `bytes held stay within the bound (${cache.size})`);
    assert.notEqual(cache.get('endpoints', cla('c1', 1), 'v1'), first, 'the least recently used went');
  });

  it('keeps the encoding of a resource object in use whatever the bound (the bound is for content made as other objects)', () => {
    const cla = (name: string, port: number) => ({ name, value: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: port } } } }] }] } });
    const cache = new EncodeCache(1_000);
    const live = cla('live', 1);
    const first = cache.get('endpoints', live, cache.version('endpoints', live));
    for (let i = 0; i < 500; i++) cache.get('endpoints', cla(`n${i}`, 80), 'v1');
    assert.ok(cache.size <= 1_000, `the LRU stays within its bound (${cache.size})`);
    assert.equal(cache.get('endpoints', live, cache.version('endpoints', live)), first, 'the object in use keeps its encoding');
    assert.notEqual(cache.get('endpoints', cla('live', 1), cache.version('endpoints', live)), first, 'equal content as another object, evicted meanwhile, is encoded again');
  });

  it('ignores requests with a stale nonce', () => {
    const { sent, conn } = setup();
    conn.setResources(resources(1));
    conn.onRequest({ typeUrl: TYPE_URLS.clusters });
    conn.setResources(resources(2));
    conn.pushAll();
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[0].nonce, errorDetail: { message: 'old' } });
    assert.equal(conn.status().types.clusters?.lastNack, undefined);
  });
});

/** A hand-driven clock: timers fire only when the test advances time. */
class FakeClock implements DebounceClock {
  private t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  now(): number { return this.t; }
  setTimer(fn: () => void, ms: number): unknown { const id = this.nextId++; this.timers.set(id, { at: this.t + ms, fn }); return id; }
  clearTimer(h: unknown): void { this.timers.delete(h as number); }
  advance(ms: number): void {
    const until = this.t + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const due = [...this.timers.entries()].filter(([, x]) => x.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = until;
  }
}

describe('Debouncer', () => {
  it('merges requests within the quiet period into one push, fired after the quiet period', () => {
    const clock = new FakeClock();
    const fired: Array<[string, number]> = [];
    const d = new Debouncer(100, 10_000, (r, queuedAt) => fired.push([r.reason, clock.now() - queuedAt]), clock);
    d.request({ reason: 'a' });
    clock.advance(60);
    d.request({ reason: 'b' });
    clock.advance(99);
    assert.deepEqual(fired, [], 'still inside the quiet period of the second request');
    clock.advance(1);
    assert.deepEqual(fired, [['a; b', 160]]);
    clock.advance(1000);
    assert.equal(fired.length, 1, 'nothing pending, nothing fired');
  });

  it('fires by the max delay even while changes keep coming', () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    const d = new Debouncer(100, 1_000, () => fired.push(clock.now()), clock);
    for (let i = 0; i < 50; i++) { d.request({ reason: 'tick' }); clock.advance(50); }
    // A request every 50 ms never leaves a 100 ms quiet period: pushes come at the 1 s maximum.
    assert.deepEqual(fired, [1000, 2000]);
    d.cancel();
  });

  it('flush fires at once; cancel drops the pending request', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const d = new Debouncer(100, 1_000, (r) => fired.push(r.reason), clock);
    d.request({ reason: 'now' });
    d.flush();
    assert.deepEqual(fired, ['now']);
    d.request({ reason: 'dropped' });
    d.cancel();
    clock.advance(5_000);
    assert.deepEqual(fired, ['now']);
  });

  it('merges affects predicates with OR; no predicate means everyone', () => {
    const p = parseNodeId('sidecar~1.1.1.1~a.ns~ns.svc.cluster.local');
    assert.ok(p.ok);
    const m = mergePushRequests({ reason: 'x', affects: () => false }, { reason: 'y', affects: (q) => q.namespace === 'ns' });
    assert.equal(m.affects!(p.value), true);
    assert.equal(mergePushRequests({ reason: 'x', affects: () => false }, { reason: 'y' }).affects, undefined);
  });
});

describe('proxyNeedsPush', async () => {
  const { proxyNeedsPush } = await import('../../../src/xds/push-scope.js');
  const gw = parseNodeId('router~1.1.1.1~gw.istio-system~istio-system.svc.cluster.local');
  const sc = parseNodeId('sidecar~1.1.1.2~app.default~default.svc.cluster.local');
  assert.ok(gw.ok && sc.ok);
  it('skips secrets of other namespaces and Sidecar resources for gateways', () => {
    assert.equal(proxyNeedsPush(['Secret/default/x'], gw.value), false);
    assert.equal(proxyNeedsPush(['Secret/istio-system/x'], gw.value), true);
    assert.equal(proxyNeedsPush(['Sidecar/default/s'], gw.value), false);
    assert.equal(proxyNeedsPush(['Sidecar/default/s'], sc.value), true);
    assert.equal(proxyNeedsPush(['Secret/default/x', 'VirtualService/default/v'], gw.value), true);
  });
});
