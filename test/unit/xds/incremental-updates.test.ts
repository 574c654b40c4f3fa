/**
 * Resources updated by name (the endpoint-only path) must leave a stream exactly where a full
 * generation of the same content would: same versions, same bookkeeping, same NACK handling; and
 * only what changed goes out. Driven by hand-written requests (no network).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { parseNodeId } from '../../../src/proxy/node.js';
import { TYPE_URLS, type NamedResource, type XdsResources } from '../../../src/translator/types.js';
import { AdsConnection, EncodeCache } from '../../../src/xds/connection.js';
import { DeltaConnection } from '../../../src/xds/delta.js';
import { DigestMap } from '../../../src/xds/digest.js';
import type { DeltaDiscoveryResponse, DiscoveryResponse } from '../../../src/xds/service.js';

const NAMES = ['c1', 'c2', 'c3', 'c4'];
const cla = (name: string, port: number): NamedResource => ({
  name, value: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: port } } } }] }] },
});
const cluster = (name: string): NamedResource => ({ name, value: { name, type: 'EDS', edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: name } } });
/** Resources with one CLA per name, on the given ports. */
const withPorts = (ports: number[]): XdsResources => ({
  listeners: [], routes: [], secrets: [], clusters: NAMES.map(cluster), endpoints: NAMES.map((n, i) => cla(n, ports[i])),
});
const proxy = () => {
  const p = parseNodeId('sidecar~10.0.0.9~app.ns~ns.svc.cluster.local');
  assert.ok(p.ok);
  return p.value;
};

/** A SotW stream subscribed to CDS and EDS (all names), everything ACKed. */
function sotw(cache = new EncodeCache()) {
  const sent: DiscoveryResponse[] = [];
  const conn = new AdsConnection(1, (r) => sent.push(r), cache, silentLogger, createMetrics());
  conn.proxy = proxy();
  conn.setResources(withPorts([81, 82, 83, 84]));
  conn.onRequest({ typeUrl: TYPE_URLS.clusters });
  conn.onRequest({ typeUrl: TYPE_URLS.clusters, responseNonce: sent[0].nonce, versionInfo: sent[0].versionInfo });
  conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNames: NAMES });
  const ack = (r: DiscoveryResponse) => conn.onRequest({ typeUrl: r.typeUrl, responseNonce: r.nonce, versionInfo: r.versionInfo, resourceNames: r.typeUrl === TYPE_URLS.endpoints ? NAMES : [] });
  ack(sent[1]);
  return { sent, conn, ack };
}

/** The names of the resources in a response, sorted (a partial response lists them in no particular order). */
const decodedNames = (r: DiscoveryResponse) => r.resources.map((a) => Buffer.from(a.value).toString('latin1').match(/c\d/)?.[0] ?? '').sort();

describe('resources updated by name (SotW)', () => {
  it('sends only the changed ClusterLoadAssignments under the version a full generation of the same content gets', () => {
    const inc = sotw();
    const full = sotw();
    inc.conn.updateResources('endpoints', [cla('c2', 92), cla('c3', 83), cla('nope', 1)]);
    full.conn.setResources(withPorts([81, 92, 83, 84]));
    assert.equal(inc.conn.pushAll(), 1);
    assert.equal(full.conn.pushAll(), 1);
    const [a, b] = [inc.sent.at(-1)!, full.sent.at(-1)!];
    assert.deepEqual(decodedNames(a), ['c2'], 'only the changed one (c3 is unchanged, "nope" is not the proxy\'s)');
    assert.deepEqual(decodedNames(b), ['c2']);
    assert.equal(a.versionInfo, b.versionInfo, 'equal content, equal version');
    assert.deepEqual(inc.conn.currentResources(), full.conn.currentResources(), 'the current resources read back in order');
    assert.equal(inc.conn.resourceVersion('endpoints', 'c2'), full.conn.resourceVersion('endpoints', 'c2'));
    inc.ack(a);
    assert.equal(inc.conn.status().types.endpoints?.versionAcked, a.versionInfo);
    // The same content again: nothing to send; back to the first content: the first version.
    inc.conn.updateResources('endpoints', [cla('c2', 92)]);
    assert.equal(inc.conn.pushAll(), 0);
    inc.conn.updateResources('endpoints', [cla('c2', 82)]);
    assert.equal(inc.conn.pushAll(), 1);
    assert.equal(inc.sent.at(-1)!.versionInfo, inc.sent[1].versionInfo, 'content-derived: the original content has the original version');
  });

  it('an unacknowledged update is followed by the full set; a full generation after updates compares with what was sent', () => {
    const { sent, conn, ack } = sotw();
    conn.updateResources('endpoints', [cla('c1', 91)]);
    conn.pushAll();
    conn.updateResources('endpoints', [cla('c4', 94)]);
    conn.pushAll();
    assert.equal(sent.at(-1)!.resources.length, 4, 'previous response not ACKed: full set');
    ack(sent.at(-1)!);
    conn.setResources(withPorts([91, 82, 93, 94]));
    assert.equal(conn.pushAll(), 1);
    assert.deepEqual(decodedNames(sent.at(-1)!), ['c3'], 'only c3 differs from what the proxy accepted');
  });

  it('a NACK after updates names the changed resource, keeps the ACKed version and never resends the rejected one', () => {
    const { sent, conn, ack } = sotw();
    const accepted = sent[1].versionInfo;
    conn.updateResources('endpoints', [cla('c3', 0)]);
    conn.pushAll();
    const rejected = sent.at(-1)!;
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, responseNonce: rejected.nonce, versionInfo: accepted, resourceNames: NAMES, errorDetail: { code: 3, message: 'port 0 is invalid' } });
    const st = conn.status().types.endpoints!;
    assert.equal(st.versionAcked, accepted);
    assert.deepEqual(st.nackedResources?.map((r) => r.name), ['c3']);
    conn.updateResources('endpoints', [cla('c3', 0)]);
    assert.equal(conn.pushAll(), 0, 'rejected content is not sent again');
    conn.updateResources('endpoints', [cla('c3', 93)]);
    assert.equal(conn.pushAll(), 1);
    ack(sent.at(-1)!);
    assert.equal(conn.status().types.endpoints?.nackedResources, undefined);
    assert.equal(conn.status().types.endpoints?.versionAcked, sent.at(-1)!.versionInfo);
  });
});

describe('resources updated by name (Delta)', () => {
  function delta() {
    const sent: DeltaDiscoveryResponse[] = [];
    const conn = new DeltaConnection(2, (r) => sent.push(r), new EncodeCache(), silentLogger, createMetrics());
    conn.proxy = proxy();
    conn.setResources(withPorts([81, 82, 83, 84]));
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: NAMES });
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, responseNonce: sent[0].nonce });
    return { sent, conn };
  }

  it('sends only the changed resources, with the system version a full generation gets', () => {
    const inc = delta();
    const full = delta();
    inc.conn.updateResources('endpoints', [cla('c4', 94), cla('c1', 81)]);
    full.conn.setResources(withPorts([81, 82, 83, 94]));
    assert.equal(inc.conn.pushAll(), 1);
    assert.equal(full.conn.pushAll(), 1);
    const [a, b] = [inc.sent.at(-1)!, full.sent.at(-1)!];
    assert.deepEqual(a.resources.map((r) => r.name), ['c4']);
    assert.deepEqual(b.resources.map((r) => r.name), ['c4']);
    assert.equal(a.resources[0].version, b.resources[0].version);
    assert.equal(a.systemVersionInfo, b.systemVersionInfo);
    assert.equal(inc.conn.status().types.endpoints?.versionSent, full.conn.status().types.endpoints?.versionSent);
  });

  it('a reconnect presenting the versions it has is sent nothing; a later update only the changed resource', () => {
    const first = delta();
    const versions = Object.fromEntries(NAMES.map((n) => [n, first.conn.resourceVersion('endpoints', n)]));
    const sent: DeltaDiscoveryResponse[] = [];
    const conn = new DeltaConnection(3, (r) => sent.push(r), new EncodeCache(), silentLogger, createMetrics());
    conn.proxy = proxy();
    conn.setResources(withPorts([81, 82, 83, 84]));
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: NAMES, initialResourceVersions: versions });
    assert.equal(sent[0].resources.length, 0, 'an empty answer to the first request');
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, responseNonce: sent[0].nonce });
    conn.updateResources('endpoints', [cla('c2', 92)]);
    conn.pushAll();
    assert.deepEqual(sent[1].resources.map((r) => r.name), ['c2']);
    // Unsubscribing c2 and subscribing again sends it again (forgotten when dropped).
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, responseNonce: sent[1].nonce, resourceNamesUnsubscribe: ['c2'] });
    conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: ['c2'] });
    assert.deepEqual(sent.at(-1)!.resources.map((r) => r.name), ['c2']);
  });
});

describe('DigestMap', () => {
  it('has a version that depends on the content only, not on order or history', () => {
    const a = new DigestMap([['x', 'h1'], ['y', 'h2'], ['z', 'h3']]);
    const b = new DigestMap([['z', 'h3'], ['x', 'h1'], ['y', 'h2']]);
    assert.equal(a.version(), b.version());
    assert.match(a.version(), /^[0-9a-f]{16}$/);
    const before = a.version();
    a.set('y', 'h9');
    assert.notEqual(a.version(), before);
    a.delete('y');
    a.set('y', 'h2');
    assert.equal(a.version(), before, 'back to the same content, back to the same version');
    const swapped = new DigestMap([['x', 'h2'], ['y', 'h1'], ['z', 'h3']]);
    assert.notEqual(swapped.version(), before, 'two resources exchanging their content change the version');
    assert.notEqual(new DigestMap().version(), new DigestMap([['x', 'h1']]).version());
  });
});

/** A small deterministic PRNG (mulberry32): the same sequence on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a stream's status says, without the clock-dependent fields. */
const statusOf = (c: AdsConnection | DeltaConnection) => JSON.parse(JSON.stringify(c.status(), (k, v) => (k === 'at' || k === 'connectedAt' ? undefined : v)));

describe('updates by name behave as full generations of the same content (random sequences)', () => {
  it('SotW: same responses (versions, nonces, resources) and the same status after every step', () => {
    const rnd = prng(9);
    const ports = [81, 82, 83, 84];
    const pair = [sotw(), sotw()];
    const [inc, full] = pair;
    let subscribed = NAMES;
    for (let step = 0; step < 400; step++) {
      const op = rnd();
      if (op < 0.5) {
        const changed = NAMES.filter(() => rnd() < 0.4).map((n) => {
          ports[NAMES.indexOf(n)] = 80 + Math.floor(rnd() * 4);
          return cla(n, ports[NAMES.indexOf(n)]);
        });
        inc.conn.updateResources('endpoints', changed);
        full.conn.setResources(withPorts(ports));
        inc.conn.pushAll();
        full.conn.pushAll();
      } else if (op < 0.75) {
        for (const s of pair) { const last = s.sent.at(-1)!; s.conn.onRequest({ typeUrl: last.typeUrl, responseNonce: last.nonce, versionInfo: last.versionInfo, resourceNames: subscribed }); }
      } else if (op < 0.9) {
        const message = rnd() < 0.5 ? `bad ${NAMES[Math.floor(rnd() * 4)]}` : 'rejected';
        for (const s of pair) { const last = s.sent.at(-1)!; s.conn.onRequest({ typeUrl: last.typeUrl, responseNonce: last.nonce, resourceNames: subscribed, errorDetail: { code: 3, message } }); }
      } else {
        subscribed = NAMES.filter(() => rnd() < 0.7);
        for (const s of pair) { const last = s.sent.at(-1)!; s.conn.onRequest({ typeUrl: TYPE_URLS.endpoints, responseNonce: last.nonce, versionInfo: last.versionInfo, resourceNames: subscribed }); }
      }
      assert.equal(inc.sent.length, full.sent.length, `step ${step}: as many responses`);
      const [a, b] = [inc.sent.at(-1)!, full.sent.at(-1)!];
      assert.deepEqual([a.versionInfo, a.nonce, a.typeUrl, decodedNames(a)], [b.versionInfo, b.nonce, b.typeUrl, decodedNames(b)], `step ${step}: same response`);
      assert.deepEqual(statusOf(inc.conn), statusOf(full.conn), `step ${step}: same status`);
    }
    assert.ok(inc.sent.length > 50, `the sequence pushed (${inc.sent.length} responses)`);
  });

  it('Delta: same responses and the same status after every step', () => {
    const rnd = prng(11);
    const ports = [81, 82, 83, 84];
    const make = () => {
      const sent: DeltaDiscoveryResponse[] = [];
      const conn = new DeltaConnection(4, (r) => sent.push(r), new EncodeCache(), silentLogger, createMetrics());
      conn.proxy = proxy();
      conn.setResources(withPorts(ports));
      conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: NAMES });
      return { sent, conn };
    };
    const pair = [make(), make()];
    const [inc, full] = pair;
    for (let step = 0; step < 400; step++) {
      const op = rnd();
      if (op < 0.5) {
        const changed = NAMES.filter(() => rnd() < 0.4).map((n) => {
          ports[NAMES.indexOf(n)] = 80 + Math.floor(rnd() * 4);
          return cla(n, ports[NAMES.indexOf(n)]);
        });
        inc.conn.updateResources('endpoints', changed);
        full.conn.setResources(withPorts(ports));
        inc.conn.pushAll();
        full.conn.pushAll();
      } else if (op < 0.75) {
        for (const s of pair) s.conn.onRequest({ typeUrl: TYPE_URLS.endpoints, responseNonce: s.sent.at(-1)!.nonce });
      } else if (op < 0.9) {
        for (const s of pair) s.conn.onRequest({ typeUrl: TYPE_URLS.endpoints, responseNonce: s.sent.at(-1)!.nonce, errorDetail: { code: 3, message: 'rejected' } });
      } else {
        const name = NAMES[Math.floor(rnd() * 4)];
        const key = rnd() < 0.5 ? 'resourceNamesUnsubscribe' : 'resourceNamesSubscribe';
        for (const s of pair) s.conn.onRequest({ typeUrl: TYPE_URLS.endpoints, [key]: [name] });
      }
      assert.equal(inc.sent.length, full.sent.length, `step ${step}: as many responses`);
      const [a, b] = [inc.sent.at(-1)!, full.sent.at(-1)!];
      const view = (r: DeltaDiscoveryResponse) => [r.systemVersionInfo, r.nonce, r.resources.map((x) => [x.name, x.version]), r.removedResources];
      assert.deepEqual(view(a), view(b), `step ${step}: same response`);
      assert.deepEqual(statusOf(inc.conn), statusOf(full.conn), `step ${step}: same status`);
    }
    // Rejected name@version pairs are never sent again: with four ports per name, fewer pushes than SotW.
    assert.ok(inc.sent.length > 15, `the sequence pushed (${inc.sent.length} responses)`);
  });
});
