/**
 * A proxy that rejected some content keeps counting as rejecting it whenever that content is again
 * what it should have (the content is not resent, so no new NACK can come), and stops as soon as
 * the wanted content is what it accepted; pushes that change this call onNackChange. Both protocols.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { parseNodeId } from '../../../src/proxy/node.js';
import { TYPE_URLS, type XdsResources } from '../../../src/translator/types.js';
import { AdsConnection, EncodeCache, syncStateOf } from '../../../src/xds/connection.js';
import { DeltaConnection } from '../../../src/xds/delta.js';
import { NackWatch } from '../../../src/xds/nack-watch.js';
import type { DeltaDiscoveryResponse, DiscoveryResponse } from '../../../src/xds/service.js';

const cluster = (name: string, seconds: number) => ({ name, value: { name, type: 'STATIC', connectTimeout: { seconds, nanos: 0 } } });
const res = (seconds: number): XdsResources => ({ clusters: [cluster('a', 1), cluster('b', seconds)], endpoints: [], listeners: [], routes: [], secrets: [] });
const proxy = () => {
  const p = parseNodeId('router~1.2.3.4~gw.ns~ns.svc.cluster.local');
  assert.ok(p.ok);
  return p.value;
};
const rejectedNames = (conn: AdsConnection | DeltaConnection) => (conn.status().types.clusters?.nackedResources ?? []).map((r) => r.name);

/**
 * Good → rejected → fixed → the rejected content again (not resent, rejected still) → back to the
 * accepted content (nothing rejected); `ack(i, error?)` answers the i-th response sent.
 */
function runSequence(conn: AdsConnection | DeltaConnection, ack: (i: number, error?: string) => void): void {
  let changes = 0;
  conn.onNackChange = () => changes++;
  conn.setResources(res(1));
  conn.onRequest({ typeUrl: TYPE_URLS.clusters });
  ack(0);
  conn.setResources(res(-1));
  conn.pushAll();
  ack(1, 'b: rejected');
  assert.deepEqual(rejectedNames(conn), ['b']);
  conn.setResources(res(2));
  conn.pushAll();
  ack(2);
  assert.deepEqual(rejectedNames(conn), []);
  assert.equal(changes, 0, 'request-driven changes are the server\'s to notice');
  conn.setResources(res(-1));
  assert.equal(conn.pushAll(), 0, 'the rejected content is not resent');
  assert.deepEqual(rejectedNames(conn), ['b']);
  assert.equal(syncStateOf(conn.status().types.clusters), 'NACKED');
  assert.equal(changes, 1);
  conn.setResources(res(2));
  assert.equal(conn.pushAll(), 0);
  assert.deepEqual(rejectedNames(conn), []);
  assert.equal(syncStateOf(conn.status().types.clusters), 'SYNCED');
  assert.equal(changes, 2);
}

describe('rejection memory', () => {
  it('State of the World', () => {
    const sent: DiscoveryResponse[] = [];
    const conn = new AdsConnection(1, (r) => sent.push(r), new EncodeCache(), silentLogger, createMetrics());
    conn.proxy = proxy();
    runSequence(conn, (i, error) => conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[i].nonce, versionInfo: sent[i].versionInfo, ...(error ? { errorDetail: { code: 3, message: error } } : {}) }));
  });

  it('Delta, per resource', () => {
    const sent: DeltaDiscoveryResponse[] = [];
    const conn = new DeltaConnection(2, (r) => sent.push(r), new EncodeCache(), silentLogger, createMetrics());
    conn.proxy = proxy();
    runSequence(conn, (i, error) => conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[i].nonce, ...(error ? { errorDetail: { code: 3, message: error } } : {}) }));
  });

  it('NackWatch notifies when what a stream rejects changes, and when a rejecting stream goes', () => {
    const sent: DiscoveryResponse[] = [];
    const conn = new AdsConnection(9, (r) => sent.push(r), new EncodeCache(), silentLogger, createMetrics());
    conn.proxy = proxy();
    const watch = new NackWatch();
    let notes = 0;
    const unsubscribe = watch.subscribe(() => notes++);
    conn.setResources(res(1));
    conn.onRequest({ typeUrl: TYPE_URLS.clusters });
    watch.check(conn);
    assert.equal(notes, 0, 'nothing rejected: no news');
    conn.setResources(res(-1));
    conn.pushAll();
    conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[1].nonce, errorDetail: { code: 3, message: 'bad' } });
    watch.check(conn);
    watch.check(conn);
    assert.equal(notes, 1, 'one change, one notification');
    assert.ok(watch.has(9));
    watch.forget(9);
    assert.equal(notes, 2);
    watch.forget(9);
    assert.equal(notes, 2, 'a stream that rejected nothing leaves silently');
    unsubscribe();
  });
});
