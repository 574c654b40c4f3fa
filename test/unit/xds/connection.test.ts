/** The SotW bookkeeping of one ADS stream, driven by hand-written DiscoveryRequests (no network). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { TYPE_URLS, type XdsResources } from '../../../src/translator/types.js';
import { AdsConnection, EncodeCache } from '../../../src/xds/connection.js';
import { Debouncer, mergePushRequests } from '../../../src/xds/debounce.js';
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

describe('Debouncer', () => {
  it('merges requests within the quiet period into one push', async () => {
    const fired: string[] = [];
    const d = new Debouncer(30, 10_000, (r) => fired.push(r.reason));
    d.request({ reason: 'a' });
    d.request({ reason: 'b' });
    await new Promise((r) => setTimeout(r, 80));
    assert.deepEqual(fired, ['a; b']);
  });

  it('fires by the max delay even while changes keep coming', async () => {
    const fired: number[] = [];
    const start = Date.now();
    const d = new Debouncer(50, 120, () => fired.push(Date.now() - start));
    const until = Date.now() + 300;
    while (Date.now() < until && fired.length === 0) {
      d.request({ reason: 'tick' });
      await new Promise((r) => setTimeout(r, 20));
    }
    d.cancel();
    assert.equal(fired.length, 1);
    assert.ok(fired[0] < 250, `fired after ${fired[0]} ms`);
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
