/** The Delta bookkeeping of one stream and the sync states, driven by hand-written requests (no network). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { parseNodeId } from '../../../src/proxy/node.js';
import { TYPE_URLS, type XdsResources } from '../../../src/translator/types.js';
import { EncodeCache, syncStateOf } from '../../../src/xds/connection.js';
import { DeltaConnection } from '../../../src/xds/delta.js';
import type { DeltaDiscoveryResponse } from '../../../src/xds/service.js';

const cluster = (name: string, seconds = 1) => ({ name, value: { name, type: 'EDS', connectTimeout: { seconds, nanos: 0 }, edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } } } });
const res = (clusters: Array<ReturnType<typeof cluster>>): XdsResources => ({ clusters, endpoints: [], listeners: [], routes: [], secrets: [] });
const names = (r: DeltaDiscoveryResponse) => r.resources.map((x) => x.name).sort();

function setup() {
  const sent: DeltaDiscoveryResponse[] = [];
  const conn = new DeltaConnection(3, (r) => sent.push(r), new EncodeCache(), silentLogger, createMetrics());
  const p = parseNodeId('router~1.2.3.4~gw.ns~ns.svc.cluster.local');
  assert.ok(p.ok);
  conn.proxy = p.value;
  return { sent, conn };
}

describe('DeltaConnection', () => {
  it('explicit names with a wildcard: unsubscribing "*" keeps the named ones and forgets the rest', () => {
    const { sent, conn } = setup();
    conn.setResources(res([cluster('a'), cluster('b')]));
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, resourceNamesSubscribe: ['*', 'a'] });
    assert.deepEqual(names(sent[0]), ['a', 'b']);
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[0].nonce });
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, resourceNamesUnsubscribe: ['*'] });
    assert.equal(sent.length, 1, 'no response to an unsubscribe with nothing to send');
    assert.deepEqual(conn.status().types.clusters?.subscribed, ['a']);
    // b changes: not wanted any more, not sent. Subscribing to it again sends it.
    conn.setResources(res([cluster('a'), cluster('b', 2)]));
    assert.equal(conn.pushAll(), 0);
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, resourceNamesSubscribe: ['b'] });
    assert.deepEqual(names(sent[1]), ['b']);
  });

  it('a NACK names the resources of that response; sync state NACKED, then SYNCED after a fix is ACKed', () => {
    const { sent, conn } = setup();
    conn.setResources(res([cluster('a'), cluster('b')]));
    conn.onRequest({ typeUrl: TYPE_URLS.clusters });
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[0].nonce });
    assert.equal(syncStateOf(conn.status().types.clusters), 'SYNCED');
    conn.setResources(res([cluster('a'), cluster('b', -1)]));
    conn.pushAll();
    assert.deepEqual(names(sent[1]), ['b']);
    assert.equal(syncStateOf(conn.status().types.clusters), 'STALE', 'sent, not yet answered');
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[1].nonce, errorDetail: { code: 3, message: 'bad' } });
    assert.equal(syncStateOf(conn.status().types.clusters), 'NACKED');
    assert.deepEqual(conn.status().types.clusters?.nackedResources?.map((r) => r.name), ['b']);
    assert.equal(conn.pushAll(), 0, 'the rejected version is not resent');
    conn.setResources(res([cluster('a'), cluster('b', 3)]));
    conn.pushAll();
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[2].nonce });
    assert.equal(syncStateOf(conn.status().types.clusters), 'SYNCED');
  });

  it('sync states: NOT SENT without a subscription or a response', () => {
    assert.equal(syncStateOf(undefined), 'NOT SENT');
    assert.equal(syncStateOf({ subscribed: '*' }), 'NOT SENT');
    assert.equal(syncStateOf({ subscribed: '*', versionSent: 'v1', nonceSent: 'n1', versionAcked: 'v0', lastNack: { version: 'v0', nonce: 'n0', message: 'x', at: '' } }), 'STALE', 'an old NACK, the latest response unanswered');
  });
});
