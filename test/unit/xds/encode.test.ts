/** Encoding translator-shaped objects into google.protobuf.Any and back; errors name resource and field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TYPE_URLS, type ResourceKind } from '../../../src/translator/types.js';
import { decodeResource, encodeMessage, encodeResource, jsToStruct } from '../../../src/xds/encode.js';
import { ENVOY_PROTO_FILES, envoyRoot } from '../../../src/xds/protos.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

const listener = {
  name: '0.0.0.0_8080',
  address: { socketAddress: { address: '0.0.0.0', portValue: 8080 } },
  filterChains: [{
    filters: [{
      name: 'envoy.filters.network.http_connection_manager',
      typedConfig: {
        '@type': HCM,
        statPrefix: 'outbound_0.0.0.0_8080',
        rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: 'http.8080' },
        httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }],
        commonHttpProtocolOptions: { idleTimeout: { seconds: 3600, nanos: 0 } },
      },
    }],
  }],
};

const cluster = {
  name: 'outbound|9080||reviews.default.svc.cluster.local',
  type: 'EDS',
  connectTimeout: { seconds: 10, nanos: 500_000_000 },
  lbPolicy: 'LEAST_REQUEST',
  edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: 'outbound|9080||reviews.default.svc.cluster.local' },
  circuitBreakers: { thresholds: [{ maxConnections: { value: 100 } }] },
  metadata: { filterMetadata: { istio: { services: [{ host: 'reviews.default.svc.cluster.local', namespace: 'default' }] } } },
};

const cla = {
  clusterName: 'outbound|9080||reviews.default.svc.cluster.local',
  endpoints: [{
    locality: { region: 'eu', zone: 'a' },
    lbEndpoints: [
      { endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: 9080 } } }, loadBalancingWeight: { value: 3 } },
      { endpoint: { address: { socketAddress: { address: '10.0.0.2', portValue: 9080 } } }, healthStatus: 'HEALTHY' },
    ],
  }],
};

const secret = {
  name: 'kubernetes://bookinfo-cert',
  tlsCertificate: { certificateChain: { inlineString: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' }, privateKey: { inlineString: 'KEY' } },
};

describe('encodeResource / decodeResource', () => {
  const cases: Array<[ResourceKind, Record<string, unknown>]> = [['listeners', listener], ['clusters', cluster], ['endpoints', cla], ['secrets', secret]];
  for (const [kind, value] of cases) {
    it(`round-trips a ${kind} resource`, () => {
      const any = encodeResource(kind, value);
      assert.equal(any.type_url, TYPE_URLS[kind]);
      assert.ok(any.value.length > 20);
      const back = decodeResource(kind, any.value);
      // Every top-level field survives (the nested Any is checked separately below).
      for (const key of Object.keys(value)) assert.ok(key in back, `${kind}: field ${key} lost`);
    });
  }

  it('packs nested @type objects as real Any values that decode to the inner message', () => {
    const back = decodeResource('listeners', encodeResource('listeners', listener).value) as { filterChains: Array<{ filters: Array<{ typedConfig: { typeUrl?: string; type_url?: string; value: Uint8Array } }> }> };
    const typed = back.filterChains[0].filters[0].typedConfig;
    assert.equal(typed.type_url ?? typed.typeUrl, HCM);
    const Hcm = envoyRoot().lookupType(HCM.split('/')[1]);
    const hcm = Hcm.toObject(Hcm.decode(typed.value), { enums: String, longs: Number }) as { statPrefix: string; rds: { routeConfigName: string }; httpFilters: Array<{ typedConfig: { type_url?: string; typeUrl?: string } }>; commonHttpProtocolOptions: { idleTimeout: { seconds: number } } };
    assert.equal(hcm.statPrefix, 'outbound_0.0.0.0_8080');
    assert.equal(hcm.rds.routeConfigName, 'http.8080');
    assert.equal(hcm.httpFilters[0].typedConfig.type_url ?? hcm.httpFilters[0].typedConfig.typeUrl, ROUTER);
    assert.equal(hcm.commonHttpProtocolOptions.idleTimeout.seconds, 3600);
  });

  it('keeps durations, enums, wrappers and plain-JSON metadata', () => {
    const back = decodeResource('clusters', encodeResource('clusters', cluster).value) as Record<string, any>;
    assert.deepEqual(back.connectTimeout, { seconds: 10, nanos: 500_000_000 });
    assert.equal(back.lbPolicy, 'LEAST_REQUEST');
    assert.equal(back.circuitBreakers.thresholds[0].maxConnections.value, 100);
    const istio = back.metadata.filterMetadata.istio.fields.services.listValue.values[0].structValue.fields;
    assert.equal(istio.host.stringValue, 'reviews.default.svc.cluster.local');
    const eps = decodeResource('endpoints', encodeResource('endpoints', cla).value) as Record<string, any>;
    assert.equal(eps.endpoints[0].lbEndpoints[0].loadBalancingWeight.value, 3);
    assert.equal(eps.endpoints[0].lbEndpoints[1].healthStatus, 'HEALTHY');
  });

  it('is deterministic: equal input, equal bytes', () => {
    assert.deepEqual(encodeResource('listeners', listener).value, encodeResource('listeners', structuredClone(listener)).value);
  });
});

describe('encoding errors name the resource and the field', () => {
  const cases: Array<{ what: string; kind: ResourceKind; value: Record<string, unknown>; error: RegExp }> = [
    { what: 'unknown top-level field', kind: 'clusters', value: { ...cluster, conectTimeout: { seconds: 1 } }, error: /clusters\/outbound\|9080\|\|reviews\.default\.svc\.cluster\.local: unknown field "conectTimeout" for envoy\.config\.cluster\.v3\.Cluster/ },
    { what: 'unknown field inside a nested Any', kind: 'listeners', value: { ...listener, filterChains: [{ filters: [{ name: 'hcm', typedConfig: { '@type': HCM, statPrefx: 'x' } }] }] }, error: /listeners\/0\.0\.0\.0_8080\.filterChains\[0\]\.filters\[0\]\.typedConfig: unknown field "statPrefx"/ },
    { what: 'Any without @type', kind: 'listeners', value: { name: 'l', filterChains: [{ filters: [{ name: 'x', typedConfig: { statPrefix: 'x' } }] }] }, error: /typedConfig: google\.protobuf\.Any needs "@type"/ },
    { what: 'type that is not loaded', kind: 'listeners', value: { name: 'l', filterChains: [{ filters: [{ name: 'x', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.nope.v3.Nope' } }] }] }, error: /type envoy\.extensions\.filters\.network\.nope\.v3\.Nope is not loaded/ },
    { what: 'string where a port number belongs', kind: 'endpoints', value: { clusterName: 'c', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: '9080' } } } }] }] }, error: /endpoints\/c\.endpoints\[0\]\.lbEndpoints\[0\]\.endpoint\.address\.socketAddress\.portValue: expected an integer, got "9080"/ },
    { what: 'unknown enum value', kind: 'clusters', value: { name: 'c', lbPolicy: 'FASTEST' }, error: /clusters\/c\.lbPolicy: expected one of ROUND_ROBIN, .*envoy\.config\.cluster\.v3\.Cluster\.LbPolicy/ },
    { what: 'scalar where a list belongs', kind: 'routes', value: { name: 'r', virtualHosts: [{ name: 'v', domains: '*' }] }, error: /routes\/r\.virtualHosts\[0\]\.domains: expected a list/ },
    { what: 'duration as a string', kind: 'clusters', value: { name: 'c', connectTimeout: '1s' }, error: /clusters\/c\.connectTimeout: expected a google\.protobuf\.Duration message, got "1s"/ },
    { what: 'unknown field inside a Duration', kind: 'clusters', value: { name: 'c', connectTimeout: { secs: 1 } }, error: /clusters\/c\.connectTimeout: unknown field "secs" for google\.protobuf\.Duration/ },
    { what: 'two members of one oneof', kind: 'clusters', value: { name: 'c', type: 'EDS', clusterType: { name: 'x' } }, error: /clusters\/c: oneof clusterDiscoveryType allows one field, got "type" and "clusterType"/ },
    { what: 'null in a list', kind: 'routes', value: { name: 'r', virtualHosts: [{ name: 'v', domains: ['*'] }, null] }, error: /routes\/r\.virtualHosts\[1\]: expected a value, got null/ },
    { what: 'null for a scalar', kind: 'clusters', value: { name: null }, error: /clusters\/\?\.name: expected a string, got null/ },
    { what: 'scalar where a map belongs', kind: 'clusters', value: { name: 'c', metadata: { filterMetadata: 'istio' } }, error: /clusters\/c\.metadata\.filterMetadata: expected a map \(object\), got "istio"/ },
    { what: 'wrong map value', kind: 'clusters', value: { name: 'c', metadata: { filterMetadata: { istio: 'x' } } }, error: /clusters\/c\.metadata\.filterMetadata\.istio: expected a google\.protobuf\.Struct message, got "x"/ },
    { what: 'non-JSON value in plain-JSON metadata', kind: 'clusters', value: { name: 'c', metadata: { filterMetadata: { istio: { a: [1, 10n] } } } }, error: /clusters\/c\.metadata\.filterMetadata\.istio\.a\[1\]: expected JSON/ },
    { what: 'bytes that are not base64', kind: 'routes', value: { name: 'r', virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, directResponse: { status: 200, body: { inlineBytes: '%%%' } } }] }] }, error: /routes\/r\.virtualHosts\[0\]\.routes\[0\]\.directResponse\.body\.inlineBytes: invalid encoding/ },
    { what: 'unsigned field given a negative number', kind: 'clusters', value: { name: 'c', perConnectionBufferLimitBytes: { value: -1 } }, error: /clusters\/c\.perConnectionBufferLimitBytes\.value: expected an unsigned 32-bit integer, got -1/ },
    { what: 'error deep inside a nested Any', kind: 'listeners', value: { ...listener, filterChains: [{ filters: [{ name: 'hcm', typedConfig: { '@type': HCM, httpFilters: [{ name: 'r', typedConfig: { '@type': ROUTER, suppressEnvoyHeaders: 'yes' } }] } }] }] }, error: /listeners\/0\.0\.0\.0_8080\.filterChains\[0\]\.filters\[0\]\.typedConfig\.httpFilters\[0\]\.typedConfig\.suppressEnvoyHeaders: expected a boolean, got "yes"/ },
  ];
  for (const c of cases) {
    it(c.what, () => assert.throws(() => encodeResource(c.kind, c.value), c.error));
  }
});

describe('the bytes are protobuf wire format', () => {
  const Cluster = () => envoyRoot().lookupType('envoy.config.cluster.v3.Cluster');
  const Cla = () => envoyRoot().lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');

  it('writes what protobufjs fromObject + encode writes (enums, wrappers, durations, Struct metadata)', () => {
    const asProtobufjs = { ...cluster, metadata: { filterMetadata: { istio: jsToStruct(cluster.metadata.filterMetadata.istio) } } };
    assert.deepEqual(Buffer.from(encodeResource('clusters', cluster).value), Buffer.from(Cluster().encode(Cluster().fromObject(asProtobufjs)).finish()));
    assert.deepEqual(Buffer.from(encodeResource('endpoints', cla).value), Buffer.from(Cla().encode(Cla().fromObject(cla)).finish()));
    // The same Struct given in its message form is written the same way.
    assert.deepEqual(encodeResource('clusters', asProtobufjs).value, encodeResource('clusters', cluster).value);
  });

  it('packs a nested Any whose value is the inner message encoding', () => {
    const Hcm = envoyRoot().lookupType(HCM.split('/')[1]);
    const { ['@type']: _t, ...hcm } = listener.filterChains[0].filters[0].typedConfig;
    const back = decodeResource('listeners', encodeResource('listeners', listener).value) as { filterChains: Array<{ filters: Array<{ typedConfig: { value: Uint8Array } }> }> };
    const again = Hcm.decode(back.filterChains[0].filters[0].typedConfig.value);
    assert.deepEqual(Hcm.toObject(again, { enums: String }), Hcm.toObject(Hcm.decode(encodeMessage(HCM, hcm)), { enums: String }));
  });

  it('writes long messages, long and non-ASCII strings, bytes and negative numbers', () => {
    const name = `ünïcødé-${'x'.repeat(300)}`;
    const routes = Array.from({ length: 3000 }, (_, i) => ({ name: `r${i}`, match: { prefix: `/p${i}/`, headers: [{ name: 'x-tenant', stringMatch: { exact: `t${i % 7}é` } }] }, route: { cluster: `c${i}`, priority: 'HIGH' } }));
    const rc = { name, virtualHosts: [{ name: 'vh', domains: ['*'], routes: [...routes, { match: { prefix: '/b' }, directResponse: { status: 200, body: { inlineBytes: 'AAEC' } } }] }] };
    const bytes = encodeResource('routes', rc).value;
    assert.ok(bytes.length > 128 * 1024);
    const back = decodeResource('routes', bytes) as Record<string, any>;
    assert.equal(back.name, name);
    const vh = back.virtualHosts[0];
    assert.equal(vh.routes.length, 3001);
    assert.deepEqual(vh.routes[2999], routes[2999]);
    assert.deepEqual([...vh.routes[3000].directResponse.body.inlineBytes], [0, 1, 2]);
    const cb = decodeResource('clusters', encodeResource('clusters', { name: 'c', lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: { value: 1024 } }, connectTimeout: { seconds: -1, nanos: -5 } }).value) as Record<string, any>;
    assert.deepEqual(cb.connectTimeout, { seconds: -1, nanos: -5 });
    assert.equal(cb.ringHashLbConfig.minimumRingSize.value, 1024);
  });

  it('writes a virtual host object met again from its kept bytes: the same as protobufjs, wherever it sits, short or long', () => {
    const Rc = () => envoyRoot().lookupType('envoy.config.route.v3.RouteConfiguration');
    const small = { name: 'small', domains: ['a'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] };
    const big = { name: 'big', domains: ['b', 'b:80'], routes: Array.from({ length: 400 }, (_, i) => ({ name: `r${i}`, match: { prefix: `/p${i}/` }, route: { cluster: `c${i}`, timeout: { seconds: 0, nanos: 0 } } })) };
    const configs = [
      { name: '1', virtualHosts: [small, big] },
      { name: '2', virtualHosts: [big, { name: 'other', domains: ['*'] }, small] },
      { name: '1', virtualHosts: [small, big] },
    ];
    for (const rc of configs) assert.deepEqual(Buffer.from(encodeResource('routes', rc).value), Buffer.from(Rc().encode(Rc().fromObject(rc)).finish()));
  });

  it('leaves the translator objects as they were', () => {
    const before = structuredClone({ listener, cluster });
    encodeResource('listeners', listener);
    encodeResource('clusters', cluster);
    assert.deepEqual({ listener, cluster }, before);
  });
});

describe('protos', () => {
  it('loads every listed file and the ADS service', () => {
    const root = envoyRoot();
    assert.ok(ENVOY_PROTO_FILES.length >= 20);
    assert.ok(root.lookupService('envoy.service.discovery.v3.AggregatedDiscoveryService').methods.StreamAggregatedResources);
    for (const name of ['envoy.extensions.filters.http.cors.v3.Cors', 'envoy.extensions.filters.http.fault.v3.HTTPFault', 'envoy.extensions.filters.listener.original_dst.v3.OriginalDst', 'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector', 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit']) {
      assert.ok(root.lookupType(name), name);
    }
  });

  it('encodes a message by full name', () => {
    assert.ok(encodeMessage('envoy.extensions.filters.http.router.v3.Router', {}).length === 0);
  });
});
