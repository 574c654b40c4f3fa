/**
 * CSDS over real gRPC: a grpc-js client calls FetchClientStatus on meshpilot's xDS port and gets,
 * per connected proxy (State of the World and Delta), each resource with its version and whether
 * the proxy ACKed or NACKed it.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { TYPE_URLS, type XdsResources } from '../../../src/translator/types.js';
import { csdsServiceDefinition, type ClientStatusRequest, type ClientStatusResponse } from '../../../src/xds/csds.js';
import { decodeResource } from '../../../src/xds/encode.js';
import { XdsServer } from '../../../src/xds/server.js';
import { adsServiceDefinition, type DiscoveryRequest, type DiscoveryResponse } from '../../../src/xds/service.js';
import { deltaAck, deltaClient, nodeOf, StreamClient } from '../../helpers/ads-client.js';

const SOTW = 'router~127.0.0.1~gw-a.istio-system~istio-system.svc.cluster.local';
const DELTA = 'sidecar~127.0.0.2~app-1.default~default.svc.cluster.local';

const resources = (): XdsResources => ({
  clusters: ['c1', 'c2'].map((n) => ({ name: n, value: { name: n, type: 'EDS', connectTimeout: { seconds: 1, nanos: 0 }, edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } } } })),
  endpoints: ['c1', 'c2'].map((n) => ({ name: n, value: { clusterName: n, endpoints: [] } })),
  listeners: [], routes: [], secrets: [],
});

describe('CSDS (ClientStatusDiscoveryService) over gRPC', () => {
  let server: XdsServer;
  let addr: string;
  let csds: grpc.Client;
  const closers: Array<() => void> = [];

  const fetch = (req: ClientStatusRequest): Promise<ClientStatusResponse> => new Promise((resolve, reject) => {
    (csds as unknown as { FetchClientStatus(r: ClientStatusRequest, cb: (e: grpc.ServiceError | null, r: ClientStatusResponse) => void): void })
      .FetchClientStatus(req, (err, res) => (err ? reject(err) : resolve(res)));
  });

  before(async () => {
    server = new XdsServer({ generate: resources, logger: silentLogger, metrics: createMetrics(), debounceMs: 10 });
    addr = await server.listen('127.0.0.1:0');
    const Ctor = grpc.makeGenericClientConstructor(csdsServiceDefinition(), 'ClientStatusDiscoveryService');
    csds = new Ctor(addr, grpc.credentials.createInsecure());
    // A State-of-the-World proxy that ACKs CDS.
    const sotw = new StreamClient<DiscoveryRequest, DiscoveryResponse>(addr, adsServiceDefinition(), 'StreamAggregatedResources');
    closers.push(() => sotw.close());
    sotw.send({ node: nodeOf(SOTW), typeUrl: TYPE_URLS.clusters });
    const cds = await sotw.next();
    sotw.send({ typeUrl: cds.typeUrl, versionInfo: cds.versionInfo, responseNonce: cds.nonce });
    // A Delta proxy that ACKs CDS and rejects its EDS response.
    const delta = deltaClient(addr);
    closers.push(() => delta.close());
    delta.send({ node: nodeOf(DELTA), typeUrl: TYPE_URLS.clusters });
    delta.send(deltaAck(await delta.next()));
    delta.send({ typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: ['c1'] });
    const eds = await delta.next();
    delta.send({ typeUrl: eds.typeUrl, responseNonce: eds.nonce, errorDetail: { code: 3, message: 'c1: no good' } });
    for (let i = 0; i < 100; i++) {
      const st = server.syncStatus();
      if (st.length === 2 && st.find((s) => s.id === DELTA)?.types.endpoints?.lastNack && st.find((s) => s.id === SOTW)?.types.clusters?.versionAcked) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  after(async () => {
    for (const c of closers) c();
    csds?.close();
    await server.close();
  });

  it('reports every connected proxy with each resource, its version and ACK/NACK status', async () => {
    const res = await fetch({});
    const byNode = new Map(res.config.map((c) => [c.node.id, c.genericXdsConfigs]));
    assert.deepEqual([...byNode.keys()].sort(), [SOTW, DELTA].sort());
    const sotw = byNode.get(SOTW)!;
    assert.deepEqual(sotw.map((g) => [g.typeUrl, g.name, g.configStatus, g.clientStatus]), [
      [TYPE_URLS.clusters, 'c1', 'SYNCED', 'ACKED'],
      [TYPE_URLS.clusters, 'c2', 'SYNCED', 'ACKED'],
    ]);
    for (const g of sotw) assert.match(g.versionInfo, /^[0-9a-f]{16}$/);
    assert.equal((decodeResource('clusters', sotw[0].xdsConfig!.value) as { name: string }).name, 'c1', 'the resource as sent');
    const delta = byNode.get(DELTA)!;
    assert.deepEqual(delta.map((g) => [g.typeUrl, g.name, g.configStatus, g.clientStatus]), [
      [TYPE_URLS.clusters, 'c1', 'SYNCED', 'ACKED'],
      [TYPE_URLS.clusters, 'c2', 'SYNCED', 'ACKED'],
      [TYPE_URLS.endpoints, 'c1', 'ERROR', 'NACKED'],
    ]);
    assert.equal(delta[2].errorState?.details, 'c1: no good');
    assert.equal(delta[2].errorState?.versionInfo, delta[2].versionInfo);
  });

  it('node matchers select proxies; exclude_resource_contents leaves the resources out', async () => {
    const one = await fetch({ nodeMatchers: [{ nodeId: { exact: DELTA } }], excludeResourceContents: true });
    assert.deepEqual(one.config.map((c) => c.node.id), [DELTA]);
    assert.ok(one.config[0].genericXdsConfigs.every((g) => g.xdsConfig === undefined || g.xdsConfig === null));
    const prefix = await fetch({ nodeMatchers: [{ nodeId: { prefix: 'router~' } }] });
    assert.deepEqual(prefix.config.map((c) => c.node.id), [SOTW]);
    const none = await fetch({ nodeMatchers: [{ nodeId: { exact: 'nobody' } }] });
    assert.equal(none.config.length, 0);
  });

  it('StreamClientStatus answers each request on the stream with the status as it is then', async () => {
    const stream = new StreamClient<ClientStatusRequest, ClientStatusResponse>(addr, csdsServiceDefinition(), 'StreamClientStatus');
    closers.push(() => stream.close());
    stream.send({ nodeMatchers: [{ nodeId: { exact: DELTA } }], excludeResourceContents: true });
    const first = await stream.next();
    assert.deepEqual(first.config.map((c) => c.node.id), [DELTA]);
    assert.deepEqual(first.config[0].genericXdsConfigs.filter((g) => g.clientStatus === 'NACKED').map((g) => [g.typeUrl, g.name, g.errorState?.details]), [[TYPE_URLS.endpoints, 'c1', 'c1: no good']]);
    // A proxy connects between two requests on the same stream: the second answer has it.
    const third = 'router~127.0.0.3~gw-b.istio-system~istio-system.svc.cluster.local';
    const late = new StreamClient<DiscoveryRequest, DiscoveryResponse>(addr, adsServiceDefinition(), 'StreamAggregatedResources');
    try {
      late.send({ node: nodeOf(third), typeUrl: TYPE_URLS.clusters });
      const cds = await late.next();
      late.send({ typeUrl: cds.typeUrl, versionInfo: cds.versionInfo, responseNonce: cds.nonce });
      stream.send({ nodeMatchers: [{ nodeId: { prefix: 'router~' } }] });
      const second = await stream.next();
      assert.deepEqual(second.config.map((c) => c.node.id).sort(), [SOTW, third].sort());
      const lateConfigs = second.config.find((c) => c.node.id === third)!.genericXdsConfigs;
      assert.deepEqual(lateConfigs.map((g) => g.name), ['c1', 'c2']);
      assert.equal((decodeResource('clusters', lateConfigs[0].xdsConfig!.value) as { name: string }).name, 'c1');
    } finally {
      late.close();
    }
    // The client ends the stream: the server ends it with OK.
    stream.close();
    assert.equal((await stream.closed).code, grpc.status.OK);
  });
});
