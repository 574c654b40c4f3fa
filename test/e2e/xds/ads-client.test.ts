/**
 * The ADS server over real gRPC (TCP and unix socket) with a scripted client instead of Envoy:
 * node validation, bad requests, warming order, scoped pushes, translation failures, shutdown.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMetrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import type { ProxyInfo } from '../../../src/proxy/node.js';
import { TYPE_URLS, type ResourceKind, type XdsResources } from '../../../src/translator/types.js';
import { decodeResource } from '../../../src/xds/encode.js';
import { XdsServer } from '../../../src/xds/server.js';
import { adsServiceDefinition, type DiscoveryRequest, type DiscoveryResponse } from '../../../src/xds/service.js';
import { nodeOf, StreamClient } from '../../helpers/ads-client.js';

const GW = 'router~127.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local';
const SC = 'sidecar~127.0.0.2~app-1.default~default.svc.cluster.local';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Resources whose every kind changes with `gen`. */
function resources(gen: number): XdsResources {
  return {
    clusters: [{ name: 'c1', value: { name: 'c1', type: 'EDS', connectTimeout: { seconds: gen, nanos: 0 }, edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } } } }],
    endpoints: [
      { name: 'c1', value: { clusterName: 'c1', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 1000 + gen } } } }] }] } },
      { name: 'c2', value: { clusterName: 'c2', endpoints: [] } },
    ],
    listeners: [{ name: 'l1', value: { name: 'l1', address: { socketAddress: { address: '127.0.0.1', portValue: 2000 + gen } }, filterChains: [{ filters: [{ name: 'hcm', typedConfig: { '@type': HCM, statPrefix: 's', rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: 'r1' } } }] }] } }],
    routes: [{ name: 'r1', value: { name: 'r1', virtualHosts: [{ name: 'v', domains: [`gen${gen}`], routes: [{ match: { prefix: '/' }, route: { cluster: 'c1' } }] }] } }],
    secrets: [],
  };
}

/** A scripted SotW ADS client (responses queued; next() waits, bounded). */
class AdsClient extends StreamClient<DiscoveryRequest, DiscoveryResponse> {
  constructor(address: string) {
    super(address, adsServiceDefinition(), 'StreamAggregatedResources');
  }

  /** Opens the stream as a proxy would: node on the first request. */
  hello(nodeId: string, typeUrl: string, labels: Record<string, string> = {}, names: string[] = []): void {
    this.send({ node: nodeOf(nodeId, labels), typeUrl, resourceNames: names });
  }

  /** ACKs a response (same subscription names). */
  ack(r: DiscoveryResponse, names: string[] = []): void {
    this.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames: names });
  }
}

const kindOf = (typeUrl: string): ResourceKind => (Object.entries(TYPE_URLS).find(([, u]) => u === typeUrl)![0] as ResourceKind);

describe('ADS server over gRPC with a scripted client', () => {
  let server: XdsServer;
  let gen = 1;
  let failGenerate = false;
  const clients: AdsClient[] = [];
  let tcp: string;
  let unix: string;
  let dir: string;
  const connect = (addr: string): AdsClient => { const c = new AdsClient(addr); clients.push(c); return c; };

  before(async () => {
    server = new XdsServer({
      generate: (p: ProxyInfo) => {
        if (failGenerate) throw new Error('translator exploded');
        return p.type === 'router' ? resources(gen) : resources(gen + 100);
      },
      logger: silentLogger, metrics: createMetrics(), debounceMs: 10,
    });
    tcp = await server.listen('127.0.0.1:0');
    dir = mkdtempSync(join(tmpdir(), 'meshpilot-ads-'));
    unix = await server.listen(`unix://${join(dir, 'xds.sock')}`);
  });

  after(async () => {
    for (const c of clients) c.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on a free TCP port and on a unix socket', () => {
    assert.match(tcp, /^127\.0\.0\.1:[1-9]\d*$/);
    assert.equal(unix, `unix://${join(dir, 'xds.sock')}`);
  });

  it('rejects a stream whose node id is invalid with INVALID_ARGUMENT naming the id', async () => {
    const c = connect(tcp);
    c.hello('not-a-node-id', TYPE_URLS.clusters);
    const st = await c.closed;
    assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
    assert.match(st.details, /node id "not-a-node-id"/);
    assert.equal(server.syncStatus().length, 0);
  });

  it('ignores an unknown type URL and keeps the stream usable (unix socket)', async () => {
    const c = connect(unix);
    c.hello(GW, 'type.googleapis.com/envoy.nothing.v3.Nope', { istio: 'ingressgateway' });
    c.send({ typeUrl: TYPE_URLS.clusters });
    const r = await c.next();
    assert.equal(r.typeUrl, TYPE_URLS.clusters);
    assert.equal(r.resources.length, 1);
    assert.deepEqual(server.connectedProxies().map((p) => p.labels), [{ istio: 'ingressgateway' }]);
    c.close();
    const deadline = Date.now() + 5000;
    while (server.syncStatus().length > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    assert.equal(server.syncStatus().length, 0, 'closed stream forgotten');
  });

  it('pushes in warming order (CDS, EDS, LDS, RDS) and only the names asked for', async () => {
    const c = connect(tcp);
    c.hello(GW, TYPE_URLS.clusters);
    const subscribe: Array<[ResourceKind, string[]]> = [['endpoints', ['c1']], ['listeners', []], ['routes', ['r1']]];
    const first = [await c.next()];
    for (const [kind, names] of subscribe) { c.send({ typeUrl: TYPE_URLS[kind], resourceNames: names }); first.push(await c.next()); }
    assert.deepEqual(first.map((r) => [kindOf(r.typeUrl), r.resources.length]), [['clusters', 1], ['endpoints', 1], ['listeners', 1], ['routes', 1]]);
    const names: Record<string, string[]> = { clusters: [], endpoints: ['c1'], listeners: [], routes: ['r1'] };
    for (const r of first) c.ack(r, names[kindOf(r.typeUrl)]);
    gen = 2;
    const pushed = server.nextPush();
    server.requestPush({ reason: 'everything changed' });
    assert.equal((await pushed).responses, 4);
    const order: ResourceKind[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await c.next();
      order.push(kindOf(r.typeUrl));
      if (r.typeUrl === TYPE_URLS.endpoints) assert.equal((decodeResource('endpoints', r.resources[0].value) as { clusterName: string }).clusterName, 'c1');
      c.ack(r, names[kindOf(r.typeUrl)]);
    }
    assert.deepEqual(order, ['clusters', 'endpoints', 'listeners', 'routes']);
    // A new EDS subscription name is answered at once with both CLAs.
    const eds = server.syncStatus().find((s) => s.id === GW)!.types.endpoints!;
    c.send({ typeUrl: TYPE_URLS.endpoints, resourceNames: ['c1', 'c2'], responseNonce: eds.nonceSent, versionInfo: eds.versionAcked });
    const more = await c.next();
    assert.equal(more.resources.length, 2);
    c.ack(more, ['c1', 'c2']);
  });

  it('a scoped push reaches only the proxies it affects', async () => {
    const sc = connect(tcp);
    sc.hello(SC, TYPE_URLS.clusters);
    const r = await sc.next();
    sc.ack(r);
    gen = 3;
    const pushed = server.nextPush();
    server.requestPush({ reason: 'sidecars only', affects: (p) => p.type === 'sidecar' });
    const s = await pushed;
    assert.deepEqual([s.affected, s.proxies, s.responses], [1, 1, 1]);
    const update = await sc.next();
    assert.equal(update.typeUrl, TYPE_URLS.clusters);
    assert.notEqual(update.versionInfo, r.versionInfo);
    sc.ack(update);
    const status = server.syncStatus();
    assert.deepEqual(status.map((x) => x.id), [GW, SC].sort());
  });

  it('a translation failure keeps the previous configuration and the stream', async () => {
    const gw = server.syncStatus().find((s) => s.id === GW)!;
    failGenerate = true;
    gen = 4;
    const pushed = server.nextPush();
    server.requestPush({ reason: 'broken' });
    const s = await pushed;
    failGenerate = false;
    assert.deepEqual([s.affected, s.proxies], [2, 0]);
    assert.deepEqual(server.syncStatus().find((x) => x.id === GW)!.types.clusters, gw.types.clusters);
  });

  it('close() ends open streams promptly', async () => {
    const c = clients[clients.length - 1];
    const t0 = Date.now();
    await server.close();
    const st = await c.closed;
    assert.ok(Date.now() - t0 < 2500, `closed in ${Date.now() - t0} ms`);
    assert.notEqual(st, undefined);
  });
});
