/**
 * ADS responses written from pre-framed resources (src/xds/response-writer.ts) decode to exactly
 * what the generic encoder's bytes decode to, for SotW and Delta, and responses the fast path does
 * not know fall back to the generic encoder.
 */
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { describe, it } from 'node:test';
import { encodeMessage, encodeResource } from '../../../src/xds/encode.js';
import { envoyRoot } from '../../../src/xds/protos.js';
import { DELTA_RESPONSE, SOTW_RESPONSE, writeDeltaResponse, writeSotwResponse } from '../../../src/xds/response-writer.js';
import type { DeltaDiscoveryResponse, DiscoveryResponse } from '../../../src/xds/service.js';

const decode = (type: string, bytes: Uint8Array) => {
  const t = envoyRoot().lookupType(type);
  // With defaults: an empty string written or left out is the same proto3 value.
  return t.toObject(t.decode(bytes), { longs: String, enums: String, bytes: String, defaults: true });
};

const cluster = (name: string) => encodeResource('clusters', { name, type: 'EDS', edsClusterConfig: { edsConfig: { ads: {} } }, connectTimeout: { seconds: 1, nanos: 0 } });
const routes = (name: string, n: number) => encodeResource('routes', {
  name,
  virtualHosts: Array.from({ length: n }, (_, i) => ({ name: `vh-${i}`, domains: [`h${i}.example`, 'ünïcödé.example'], routes: [{ match: { prefix: `/p${i}` }, route: { cluster: `c${i}` } }] })),
});

describe('ADS response writer', () => {
  it('writes SotW responses that decode as the generic encoding does', () => {
    const cases: DiscoveryResponse[] = [
      { versionInfo: 'v1', typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', nonce: '1-1', resources: [cluster('a'), cluster('b|8080||x.y.svc.cluster.local')] },
      { versionInfo: '', typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', nonce: 'ñ-2', resources: [routes('8080', 2000)] },
      { versionInfo: 'v3', typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', nonce: '3', resources: [] },
    ];
    for (const m of cases) {
      const fast = Buffer.from(writeSotwResponse(m));
      assert.ok(isDeepStrictEqual(decode(SOTW_RESPONSE, fast), decode(SOTW_RESPONSE, encodeMessage(SOTW_RESPONSE, m as never))), `response ${m.nonce}`);
    }
  });

  it('writes Delta responses (resources with name and version, removed names) that decode as the generic encoding does', () => {
    const cases: DeltaDiscoveryResponse[] = [
      { systemVersionInfo: 'sys', typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', nonce: '7', removedResources: ['gone', 'ältere'],
        resources: [{ name: '8080', version: 'abc', resource: routes('8080', 300) }, { name: '9080', version: '', resource: routes('9080', 1) }] },
      { systemVersionInfo: '', typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', nonce: '8', removedResources: [], resources: [{ name: 'a', version: 'v', resource: cluster('a') }] },
    ];
    for (const m of cases) {
      const fast = Buffer.from(writeDeltaResponse(m));
      assert.ok(isDeepStrictEqual(decode(DELTA_RESPONSE, fast), decode(DELTA_RESPONSE, encodeMessage(DELTA_RESPONSE, m as never))), `response ${m.nonce}`);
    }
  });

  it('falls back to the generic encoder for resources without their framing', () => {
    const bare = { type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', value: cluster('z').value };
    const m = { versionInfo: 'v', typeUrl: bare.type_url, nonce: 'n', resources: [bare] } as DiscoveryResponse;
    assert.deepEqual(decode(SOTW_RESPONSE, Buffer.from(writeSotwResponse(m))), decode(SOTW_RESPONSE, encodeMessage(SOTW_RESPONSE, m as never)));
    // The framed Any's value is the resource's own encoding.
    const c = cluster('q');
    assert.equal(decode('envoy.config.cluster.v3.Cluster', c.value).name, 'q');
  });
});
