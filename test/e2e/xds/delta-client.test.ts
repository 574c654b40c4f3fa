/**
 * Delta ADS over real gRPC with a scripted grpc-js client: wildcard and explicit subscriptions,
 * per-resource versions, only-what-changed pushes, removed_resources, ACK/NACK per response,
 * initial_resource_versions on reconnect, and malformed requests that change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetrics, type Metrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { TYPE_URLS, type XdsResources } from '../../../src/translator/types.js';
import { decodeResource } from '../../../src/xds/encode.js';
import { XdsServer } from '../../../src/xds/server.js';
import type { DeltaDiscoveryResponse } from '../../../src/xds/service.js';
import { deltaAck, deltaClient, nodeOf, type DeltaClient } from '../../helpers/ads-client.js';

const GW = 'router~127.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** A mesh whose endpoint ports and cluster set the test edits. */
interface Model { ports: Record<string, number>; listenerPort: number }

function resources(m: Model): XdsResources {
  const names = Object.keys(m.ports);
  return {
    clusters: names.map((n) => ({ name: n, value: { name: n, type: 'EDS', connectTimeout: { seconds: 1, nanos: 0 }, edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } } } })),
    endpoints: names.map((n) => ({ name: n, value: { clusterName: n, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: m.ports[n] } } } }] }] } })),
    listeners: [{ name: 'l1', value: { name: 'l1', address: { socketAddress: { address: '127.0.0.1', portValue: m.listenerPort } }, filterChains: [{ filters: [{ name: 'hcm', typedConfig: { '@type': HCM, statPrefix: 's', rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: 'r1' } } }] }] } }],
    routes: [{ name: 'r1', value: { name: 'r1', virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c1' } }] }] } }],
    secrets: [],
  };
}

const namesOf = (r: DeltaDiscoveryResponse) => (r.resources ?? []).map((x) => x.name).sort();
const versionsOf = (r: DeltaDiscoveryResponse) => Object.fromEntries((r.resources ?? []).map((x) => [x.name, x.version]));
const removedOf = (r: DeltaDiscoveryResponse) => [...(r.removedResources ?? [])].sort();

describe('Delta ADS over gRPC with a scripted client', () => {
  let server: XdsServer;
  let metrics: Metrics;
  let addr: string;
  const model: Model = { ports: { c1: 1001, c2: 1002, c3: 1003 }, listenerPort: 2001 };
  const clients: DeltaClient[] = [];
  const connect = () => { const c = deltaClient(addr); clients.push(c); return c; };
  /** Versions the first client holds, as Envoy would remember them. */
  const held: Record<'clusters' | 'endpoints', Record<string, string>> = { clusters: {}, endpoints: {} };
  let c: DeltaClient;

  const push = async () => {
    const pushed = server.nextPush();
    server.requestPush({ reason: 'test' });
    return pushed;
  };

  before(async () => {
    metrics = createMetrics();
    server = new XdsServer({ generate: () => resources(model), logger: silentLogger, metrics, debounceMs: 10 });
    addr = await server.listen('127.0.0.1:0');
  });

  after(async () => {
    for (const x of clients) x.close();
    await server.close();
  });

  it('wildcard CDS and explicit EDS: every resource with its own content version; node only on the first message', async () => {
    c = connect();
    c.send({ node: nodeOf(GW, { istio: 'ingressgateway' }), typeUrl: TYPE_URLS.clusters });
    const cds = await c.next();
    assert.equal(cds.typeUrl, TYPE_URLS.clusters);
    assert.deepEqual(namesOf(cds), ['c1', 'c2', 'c3']);
    assert.deepEqual(removedOf(cds), []);
    const v = versionsOf(cds);
    assert.equal(new Set(Object.values(v)).size, 3, 'distinct content → distinct versions');
    for (const x of cds.resources) assert.match(x.version, /^[0-9a-f]{16}$/);
    held.clusters = v;
    c.send(deltaAck(cds));
    // No node from here on.
    c.send({ typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: ['c1', 'c2'] });
    const eds = await c.next();
    assert.deepEqual(namesOf(eds), ['c1', 'c2'], 'only the names subscribed');
    assert.equal((decodeResource('endpoints', eds.resources.find((x) => x.name === 'c1')!.resource.value) as { clusterName: string }).clusterName, 'c1');
    held.endpoints = versionsOf(eds);
    c.send(deltaAck(eds));
    const st = server.syncStatus()[0];
    assert.equal(st.protocol, 'delta');
    assert.equal(st.types.clusters?.subscribed, '*');
    assert.deepEqual(st.types.endpoints?.subscribed, ['c1', 'c2']);
  });

  it('one endpoint change sends only that ClusterLoadAssignment, nothing else', async () => {
    model.ports.c1 = 1101;
    const s = await push();
    assert.deepEqual([s.proxies, s.responses], [1, 1], 'one response in all');
    const r = await c.next();
    assert.equal(r.typeUrl, TYPE_URLS.endpoints);
    assert.deepEqual(namesOf(r), ['c1']);
    assert.notEqual(r.resources[0].version, held.endpoints.c1);
    const cla = decodeResource('endpoints', r.resources[0].resource.value) as { endpoints: Array<{ lbEndpoints: Array<{ endpoint: { address: { socketAddress: { portValue: number } } } }> }> };
    assert.equal(cla.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.portValue, 1101);
    held.endpoints.c1 = r.resources[0].version;
    c.send(deltaAck(r));
    assert.ok(await c.quietFor(300), 'nothing else sent');
  });

  it('a resource that disappears is named in removed_resources (wildcard and explicit)', async () => {
    delete model.ports.c2;
    await push();
    const cds = await c.next();
    const eds = await c.next();
    assert.deepEqual([cds.typeUrl, namesOf(cds), removedOf(cds)], [TYPE_URLS.clusters, [], ['c2']], 'CDS first (warming order)');
    assert.deepEqual([eds.typeUrl, namesOf(eds), removedOf(eds)], [TYPE_URLS.endpoints, [], ['c2']]);
    c.send(deltaAck(cds));
    c.send(deltaAck(eds));
    delete held.clusters.c2;
    delete held.endpoints.c2;
  });

  it('unsubscribe stops updates; subscribing again sends the resource again', async () => {
    c.send({ typeUrl: TYPE_URLS.endpoints, resourceNamesUnsubscribe: ['c1'] });
    assert.ok(await c.quietFor(200), 'an unsubscribe is not answered');
    model.ports.c1 = 1201;
    const s = await push();
    assert.equal(s.responses, 0, 'nothing subscribed changed');
    c.send({ typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: ['c1', 'c3'] });
    const r = await c.next();
    assert.deepEqual(namesOf(r), ['c1', 'c3']);
    c.send(deltaAck(r));
    Object.assign(held.endpoints, versionsOf(r));
  });

  it('a NACK is recorded for the resources of that response; the rejected version is not resent', async () => {
    model.ports.c3 = 1303;
    await push();
    const r = await c.next();
    assert.deepEqual(namesOf(r), ['c3']);
    c.send({ typeUrl: r.typeUrl, responseNonce: r.nonce, errorDetail: { code: 3, message: 'c3: bad endpoint' } });
    let st = server.syncStatus()[0].types.endpoints!;
    for (let i = 0; i < 50 && !st.lastNack; i++) { await new Promise((res) => setTimeout(res, 20)); st = server.syncStatus()[0].types.endpoints!; }
    assert.equal(st.lastNack?.message, 'c3: bad endpoint');
    assert.deepEqual(st.nackedResources?.map((x) => [x.name, x.version]), [['c3', r.resources[0].version]]);
    assert.notEqual(st.versionAcked, st.versionSent, 'not in sync while rejected');
    assert.match(await metrics.registry.getSingleMetricAsString('meshpilot_xds_nacks_total'), /type="endpoints"\} 1/);
    const again = await push();
    assert.equal(again.responses, 0, 'same rejected content: nothing resent');
    // New content for c3 is sent and, once ACKed, clears the NACK.
    model.ports.c3 = 1313;
    await push();
    const fixed = await c.next();
    assert.deepEqual(namesOf(fixed), ['c3']);
    c.send(deltaAck(fixed));
    held.endpoints.c3 = fixed.resources[0].version;
    for (let i = 0; i < 50 && server.syncStatus()[0].types.endpoints!.nackedResources; i++) await new Promise((res) => setTimeout(res, 20));
    st = server.syncStatus()[0].types.endpoints!;
    assert.equal(st.nackedResources, undefined);
    assert.equal(st.versionAcked, st.versionSent);
  });

  it('a garbage nonce and an unknown type URL are ignored; the stream keeps working', async () => {
    c.send({ typeUrl: TYPE_URLS.endpoints, responseNonce: 'no-such-nonce', errorDetail: { code: 3, message: 'noise' } });
    c.send({ typeUrl: 'type.googleapis.com/envoy.nothing.v3.Nope', resourceNamesSubscribe: ['x'] });
    assert.ok(await c.quietFor(200));
    assert.equal(server.syncStatus()[0].types.endpoints?.nackedResources, undefined, 'garbage NACK not recorded');
    model.ports.c1 = 1401;
    await push();
    const r = await c.next();
    assert.deepEqual(namesOf(r), ['c1']);
    c.send(deltaAck(r));
    held.endpoints.c1 = r.resources[0].version;
  });

  it('reconnect with initial_resource_versions: matching versions are not resent; stale ones are; vanished ones are removed', async () => {
    c.close();
    for (let i = 0; i < 100 && server.syncStatus().length > 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(server.syncStatus().length, 0);
    // Same versions as before: nothing resent (an empty answer to the first request).
    const d = connect();
    d.send({ node: nodeOf(GW, { istio: 'ingressgateway' }), typeUrl: TYPE_URLS.clusters, initialResourceVersions: held.clusters });
    const cds = await d.next();
    assert.deepEqual([namesOf(cds), removedOf(cds)], [[], []], 'all clusters current');
    d.send(deltaAck(cds));
    d.send({ typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: ['c1', 'c3'], initialResourceVersions: held.endpoints });
    const eds = await d.next();
    assert.deepEqual([namesOf(eds), removedOf(eds)], [[], []], 'all endpoints current');
    d.send(deltaAck(eds));
    d.close();
    for (let i = 0; i < 100 && server.syncStatus().length > 0; i++) await new Promise((res) => setTimeout(res, 20));
    // A client holding an old c1 and a cluster that no longer exists.
    const e = connect();
    e.send({ node: nodeOf(GW, { istio: 'ingressgateway' }), typeUrl: TYPE_URLS.clusters, initialResourceVersions: { ...held.clusters, gone: 'abc' } });
    const cds2 = await e.next();
    assert.deepEqual([namesOf(cds2), removedOf(cds2)], [[], ['gone']]);
    e.send({ typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: ['c1', 'c3'], initialResourceVersions: { ...held.endpoints, c1: 'old' } });
    const eds2 = await e.next();
    assert.deepEqual([namesOf(eds2), removedOf(eds2)], [['c1'], []], 'only the stale one');
    assert.equal(eds2.resources[0].version, held.endpoints.c1);
  });
});
