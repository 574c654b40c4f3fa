/**
 * Streams that misbehave, over real gRPC: Delta on the secure port goes through the same token
 * check as State of the World; a proxy that never ACKs or floods requests cannot stall others'
 * pushes; malformed requests (unknown type URLs, garbage nonces, 100,000 resource names) neither
 * crash meshpilot nor disturb other proxies.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMetrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { TYPE_URLS, type XdsResources } from '../../../src/translator/types.js';
import { TokenFileAuthenticator } from '../../../src/xds/auth.js';
import { XdsServer } from '../../../src/xds/server.js';
import { adsServiceDefinition, type DiscoveryRequest, type DiscoveryResponse } from '../../../src/xds/service.js';
import { deltaAck, deltaClient, nodeOf, StreamClient, type DeltaClient } from '../../helpers/ads-client.js';
import { SERVER_NAME, servingCertificate } from '../../helpers/secure-xds.js';

const GW = 'router~127.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local';
const node = (i: number) => `sidecar~127.0.1.${i}~app-${i}.default~default.svc.cluster.local`;
const TOKEN = 'gw-token-0123456789abcdef';

type SotwClient = StreamClient<DiscoveryRequest, DiscoveryResponse>;
const sotwClient = (addr: string) => new StreamClient<DiscoveryRequest, DiscoveryResponse>(addr, adsServiceDefinition(), 'StreamAggregatedResources');

describe('misbehaving xDS clients', () => {
  let server: XdsServer;
  let addr: string;
  let secureAddr: string;
  let caPem: string;
  let gen = 1;
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-robust-'));
  const closers: Array<() => void> = [];
  const track = <T extends { close(): void }>(c: T): T => { closers.push(() => c.close()); return c; };

  const resources = (): XdsResources => ({
    clusters: [{ name: 'c1', value: { name: 'c1', type: 'EDS', connectTimeout: { seconds: gen, nanos: 0 }, edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' } } } }],
    endpoints: [{ name: 'c1', value: { clusterName: 'c1', endpoints: [] } }],
    listeners: [], routes: [], secrets: [],
  });

  before(async () => {
    server = new XdsServer({ generate: resources, logger: silentLogger, metrics: createMetrics(), debounceMs: 10 });
    addr = await server.listen('127.0.0.1:0');
    const certs = servingCertificate(dir);
    writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n  - { token: ${TOKEN}, namespace: istio-system, serviceAccount: ingressgateway }\n`);
    secureAddr = await server.listen('127.0.0.1:0', {
      tls: { certPem: readFileSync(certs.certFile), keyPem: readFileSync(certs.keyFile) },
      authenticator: new TokenFileAuthenticator(join(dir, 'tokens.yaml')),
    });
    caPem = certs.caPem;
  });

  after(async () => {
    for (const c of closers) c();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const secureDelta = (token?: string): DeltaClient => {
    const md = new grpc.Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    const creds = grpc.credentials.createSsl(Buffer.from(caPem));
    return track(deltaClient(secureAddr, { credentials: creds, metadata: md, options: { 'grpc.ssl_target_name_override': SERVER_NAME, 'grpc.default_authority': SERVER_NAME } }));
  };

  it('Delta on the secure port: no token → UNAUTHENTICATED; a good token → served', async () => {
    const anon = secureDelta();
    anon.send({ node: nodeOf(GW), typeUrl: TYPE_URLS.clusters });
    const st = await anon.closed;
    assert.equal(st.code, grpc.status.UNAUTHENTICATED);
    assert.match(st.details, /no bearer token/);
    const ok = secureDelta(TOKEN);
    ok.send({ node: nodeOf(GW), typeUrl: TYPE_URLS.clusters });
    const r = await ok.next(10_000);
    assert.deepEqual(r.resources.map((x) => x.name), ['c1']);
    ok.send(deltaAck(r));
    ok.close();
  });

  it('a proxy that never ACKs and one that floods requests do not stall pushes to a well-behaved one', async () => {
    const silent = track(sotwClient(addr));
    silent.send({ node: nodeOf(node(1)), typeUrl: TYPE_URLS.clusters });
    await silent.next();
    // Never ACKs anything from here on.
    const flood = track(deltaClient(addr));
    flood.send({ node: nodeOf(node(2)), typeUrl: TYPE_URLS.clusters });
    await flood.next();
    const good = track(sotwClient(addr));
    good.send({ node: nodeOf(node(3)), typeUrl: TYPE_URLS.clusters });
    let last = await good.next();
    good.send({ typeUrl: last.typeUrl, versionInfo: last.versionInfo, responseNonce: last.nonce });
    for (let round = 0; round < 5; round++) {
      // 2,000 junk requests per round from the flooder while a change is pushed.
      for (let i = 0; i < 2000; i++) flood.send({ typeUrl: TYPE_URLS.endpoints, responseNonce: `junk-${i}`, resourceNamesSubscribe: [`n${i % 50}`] });
      gen++;
      const t0 = Date.now();
      server.requestPush({ reason: `round ${round}` });
      last = await good.next(5000);
      assert.ok(Date.now() - t0 < 5000);
      assert.notEqual(last.versionInfo, undefined);
      good.send({ typeUrl: last.typeUrl, versionInfo: last.versionInfo, responseNonce: last.nonce });
    }
    const st = server.syncStatus();
    const goodSt = st.find((s) => s.id === node(3))!.types.clusters!;
    for (let i = 0; i < 50 && server.syncStatus().find((s) => s.id === node(3))!.types.clusters!.versionAcked !== goodSt.versionSent; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.syncStatus().find((s) => s.id === node(3))!.types.clusters!.versionAcked, goodSt.versionSent, 'the good proxy is in sync');
    assert.notEqual(server.syncStatus().find((s) => s.id === node(1))!.types.clusters!.versionAcked, goodSt.versionSent, 'the silent one is not');
  });

  it('100,000 resource names (SotW and Delta), unknown type URLs, garbage nonces: no crash, others unaffected', async () => {
    // Over gRPC's 4 MB message limit: the stream ends with RESOURCE_EXHAUSTED, nothing else happens.
    const huge = track(sotwClient(addr));
    huge.send({ node: nodeOf(node(7)), typeUrl: TYPE_URLS.endpoints, resourceNames: Array.from({ length: 100_000 }, (_, i) => `outbound|80||svc-${i}.default.svc.cluster.local`) });
    assert.equal((await huge.closed).code, grpc.status.RESOURCE_EXHAUSTED);
    // Under the limit: handled, only what exists is sent.
    const names = Array.from({ length: 100_000 }, (_, i) => `svc-${i}`);
    const bigS: SotwClient = track(sotwClient(addr));
    bigS.send({ node: nodeOf(node(4)), typeUrl: TYPE_URLS.endpoints, resourceNames: ['c1', ...names] });
    const eds = await bigS.next(10_000);
    assert.equal(eds.resources.length, 1, 'only what exists is sent');
    const bigD = track(deltaClient(addr));
    bigD.send({ node: nodeOf(node(5)), typeUrl: TYPE_URLS.endpoints, resourceNamesSubscribe: [...names, 'c1'], initialResourceVersions: Object.fromEntries(names.slice(0, 1000).map((n) => [n, 'v'])) });
    const d = await bigD.next(10_000);
    assert.deepEqual(d.resources.map((x) => x.name), ['c1']);
    assert.equal((d.removedResources ?? []).length, 1000, 'names it claimed to hold that do not exist are removed');
    bigS.send({ typeUrl: 'type.googleapis.com/no.Such', responseNonce: 'zzz', resourceNames: ['x'] });
    bigD.send({ typeUrl: 'type.googleapis.com/no.Such', responseNonce: 'zzz' });
    bigD.send({ typeUrl: TYPE_URLS.endpoints, responseNonce: '\u0000garbage\uffff', errorDetail: { code: 13, message: 'x'.repeat(10_000) } });
    // The server still serves everyone: a new proxy connects and a push reaches the earlier good one.
    const fresh = track(sotwClient(addr));
    fresh.send({ node: nodeOf(node(6)), typeUrl: TYPE_URLS.clusters });
    assert.equal((await fresh.next(5000)).resources.length, 1);
    gen++;
    server.requestPush({ reason: 'after abuse' });
    const r = await fresh.next(5000);
    assert.equal(r.typeUrl, TYPE_URLS.clusters);
    assert.equal(server.syncStatus().find((s) => s.id === node(5))!.types.endpoints!.nackedResources, undefined, 'a garbage NACK is not recorded');
  });
});
