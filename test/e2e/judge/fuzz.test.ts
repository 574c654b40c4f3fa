/**
 * Envoy judges the translator: fast-check generates valid Istio configurations over routing,
 * matching, actions, policies, gateways (HTTP/HTTPS/TCP) and sidecars; each is translated for a
 * gateway and a sidecar and the whole result is run through `envoy --mode validate`. Zero
 * rejections is the bar; a counterexample is printed as YAML to turn into a regression test.
 * Runs: MESHPILOT_FUZZ_RUNS (default 100 in npm test; `npm run fuzz` runs 2,000).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { validateResource, type Resource } from '../../../src/api/index.js';
import { parseNodeId } from '../../../src/proxy/node.js';
import { snapshotFromObjects } from '../../../src/registry/snapshot.js';
import { checkConsistency, translate } from '../../../src/translator/index.js';
import type { XdsResources } from '../../../src/translator/types.js';
import { envoyValidate } from '../../helpers/envoy-validate.js';
import { selfSignedCert, tlsSecret } from '../gateway/fixture.js';
import { certificateAuthority, issueCertificate } from '../gateway/tls-certs.js';

const RUNS = Number(process.env.MESHPILOT_FUZZ_RUNS ?? 100);
const SERVICES = ['reviews', 'ratings', 'details'];
const cert = selfSignedCert('fuzz.example.com', ['fuzz.example.com', '*.example.com']);
const ecCert = issueCertificate(certificateAuthority('fuzz CA'), 'fuzz.example.com', ['fuzz.example.com'], { ec: true });

const duration = fc.constantFrom('1ms', '250ms', '1s', '1.5s', '10s', '2m', '1h2m');
const percent = fc.record({ value: fc.double({ min: 0, max: 100, noNaN: true }) });
const token = fc.constantFrom('a', 'b', 'x-1', 'jason', 'v2');
const stringMatch = fc.oneof(
  fc.record({ exact: token }), fc.record({ prefix: fc.constantFrom('/', '/api', '/v1/') }),
  fc.record({ regex: fc.constantFrom('^/[a-z]+$', '/ratings/[0-9]+', '.*', '(?i)abc') }),
);
const headerName = fc.constantFrom('end-user', 'x-tenant', 'x-debug');
const match = fc.record({
  uri: fc.option(stringMatch, { nil: undefined }),
  headers: fc.option(fc.dictionary(headerName, fc.oneof(stringMatch, fc.constant({})), { maxKeys: 2 }), { nil: undefined }),
  withoutHeaders: fc.option(fc.dictionary(headerName, stringMatch, { maxKeys: 1 }), { nil: undefined }),
  queryParams: fc.option(fc.dictionary(fc.constantFrom('v', 'q'), stringMatch, { maxKeys: 1 }), { nil: undefined }),
  method: fc.option(fc.record({ exact: fc.constantFrom('GET', 'POST') }), { nil: undefined }),
  authority: fc.option(fc.record({ prefix: fc.constantFrom('api', 'reviews') }), { nil: undefined }),
  ignoreUriCase: fc.option(fc.boolean(), { nil: undefined }),
}, { requiredKeys: [] });
const destination = fc.record({ host: fc.constantFrom(...SERVICES), subset: fc.option(fc.constantFrom('v1', 'v2'), { nil: undefined }) }, { requiredKeys: ['host'] });
const headerOps = fc.record({ set: fc.option(fc.dictionary(fc.constantFrom('x-a', 'x-b'), token, { maxKeys: 2 }), { nil: undefined }), remove: fc.option(fc.constant(['x-c']), { nil: undefined }) }, { requiredKeys: [] });
const routeAction = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.record({ destination, weight: fc.integer({ min: 1, max: 100 }), headers: fc.option(fc.record({ request: headerOps }), { nil: undefined }) }, { requiredKeys: ['destination', 'weight'] }), { minLength: 1, maxLength: 3 }).map((route) => ({ route })) },
  { weight: 1, arbitrary: fc.record({ uri: fc.constantFrom('/new', '/'), authority: fc.option(fc.constant('new.example.com'), { nil: undefined }), redirectCode: fc.option(fc.constantFrom(301, 302, 307, 308), { nil: undefined }),
    scheme: fc.option(fc.constantFrom('https', 'http'), { nil: undefined }), portOrDerive: fc.option(fc.constantFrom<Record<string, unknown>>({ port: 8443 }, { port: 443 }, { derivePort: 'FROM_PROTOCOL_DEFAULT' }, { derivePort: 'FROM_REQUEST_PORT' }), { nil: undefined }) }, { requiredKeys: ['uri'] })
    .map(({ portOrDerive, ...redirect }) => ({ redirect: { ...redirect, ...(portOrDerive ?? {}) } })) },
  { weight: 1, arbitrary: fc.record({ status: fc.constantFrom(200, 404, 503), body: fc.option(fc.oneof(fc.record({ string: fc.constantFrom('down', '') }), fc.record({ bytes: fc.constantFrom('aGVsbG8=', 'AAEC') })), { nil: undefined }) }, { requiredKeys: ['status'] }).map((directResponse) => ({ directResponse })) },
);
const httpRoute = fc.tuple(
  routeAction,
  fc.record({
    match: fc.option(fc.array(match, { minLength: 1, maxLength: 2 }), { nil: undefined }),
    timeout: fc.option(duration, { nil: undefined }),
    retries: fc.option(fc.record({ attempts: fc.integer({ min: 0, max: 5 }), perTryTimeout: fc.option(duration, { nil: undefined }), retryOn: fc.option(fc.constantFrom('5xx', 'gateway-error,connect-failure', '503,unavailable', 'retriable-4xx,cancelled'), { nil: undefined }) }, { requiredKeys: ['attempts'] }), { nil: undefined }),
    headers: fc.option(fc.record({ request: headerOps, response: headerOps }, { requiredKeys: [] }), { nil: undefined }),
  }, { requiredKeys: [] }),
  fc.record({
    rewrite: fc.option(fc.oneof(fc.record({ uri: fc.constantFrom('/', '/v2/') }), fc.record({ uriRegexRewrite: fc.record({ match: fc.constant('^/old/(.*)'), rewrite: fc.constant('/new/\\1') }) })), { nil: undefined }),
    fault: fc.option(fc.oneof(fc.record({ delay: fc.record({ fixedDelay: duration, percentage: percent }) }), fc.record({ abort: fc.record({ httpStatus: fc.constantFrom(400, 500, 503), percentage: percent }) }), fc.record({ abort: fc.record({ grpcStatus: fc.constantFrom('UNAVAILABLE', 'INTERNAL'), percentage: percent }) })), { nil: undefined }),
    mirror: fc.option(destination, { nil: undefined }),
    mirrorPercentage: fc.option(percent, { nil: undefined }),
    corsPolicy: fc.option(fc.record({ allowOrigins: fc.array(stringMatch, { minLength: 1, maxLength: 2 }), allowMethods: fc.option(fc.constant(['GET', 'POST']), { nil: undefined }), maxAge: fc.option(fc.constantFrom('1s', '24h'), { nil: undefined }), allowCredentials: fc.option(fc.boolean(), { nil: undefined }), exposeHeaders: fc.option(fc.constant(['x-a']), { nil: undefined }), unmatchedPreflights: fc.option(fc.constantFrom('FORWARD', 'IGNORE'), { nil: undefined }) }, { requiredKeys: ['allowOrigins'] }), { nil: undefined }),
  }, { requiredKeys: [] }),
).map(([action, common, extras]) => ('route' in action ? { ...common, ...extras, ...action } : { ...common, ...action }));

const lb = fc.oneof(
  fc.record({ simple: fc.constantFrom('ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'LEAST_CONN') }),
  fc.record({ consistentHash: fc.oneof(fc.record({ httpHeaderName: fc.constant('x-user') }), fc.record({ useSourceIp: fc.constant(true) }), fc.record({ httpCookie: fc.record({ name: fc.constant('u'), ttl: duration }) }), fc.record({ httpQueryParameterName: fc.constant('id') }))
    .chain((k) => fc.constantFrom<Record<string, unknown>>({}, { ringHash: { minimumRingSize: 1024 } }, { maglev: { tableSize: 65537 } }).map((x) => ({ ...k, ...x }))) }),
);
const tlsSettings = fc.oneof(
  fc.record({ mode: fc.constant('DISABLE') }),
  fc.record({ mode: fc.constant('SIMPLE'), sni: fc.option(fc.constant('backend.example.com'), { nil: undefined }), insecureSkipVerify: fc.option(fc.constant(true), { nil: undefined }) }, { requiredKeys: ['mode'] }),
);
const trafficPolicy = fc.record({
  loadBalancer: fc.option(lb, { nil: undefined }),
  tls: fc.option(tlsSettings, { nil: undefined }),
  portLevelSettings: fc.option(fc.array(fc.record({ port: fc.record({ number: fc.constantFrom(9080, 7070) }), loadBalancer: lb }), { minLength: 1, maxLength: 1 }), { nil: undefined }),
  connectionPool: fc.option(fc.record({ tcp: fc.record({ maxConnections: fc.integer({ min: 1, max: 1000 }), connectTimeout: duration }), http: fc.record({ http1MaxPendingRequests: fc.integer({ min: 1, max: 100 }), maxRequestsPerConnection: fc.integer({ min: 1, max: 10 }), maxRetries: fc.integer({ min: 0, max: 5 }), idleTimeout: duration, h2UpgradePolicy: fc.constantFrom('DEFAULT', 'UPGRADE', 'DO_NOT_UPGRADE') }, { requiredKeys: [] }) }, { requiredKeys: ['tcp'] }), { nil: undefined }),
  outlierDetection: fc.option(fc.record({ consecutive5xxErrors: fc.integer({ min: 0, max: 10 }), consecutiveGatewayErrors: fc.integer({ min: 0, max: 10 }), interval: duration, baseEjectionTime: duration, maxEjectionPercent: fc.integer({ min: 0, max: 100 }), minHealthPercent: fc.integer({ min: 0, max: 100 }), splitExternalLocalOriginErrors: fc.boolean(), consecutiveLocalOriginFailures: fc.integer({ min: 0, max: 5 }) }, { requiredKeys: [] }), { nil: undefined }),
}, { requiredKeys: [] });

/** ServiceEntries of every resolution, with endpoints, addresses and port shapes. */
const serviceEntry = fc.record({
  resolution: fc.constantFrom('NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'),
  location: fc.constantFrom('MESH_EXTERNAL', 'MESH_INTERNAL'),
  protocol: fc.constantFrom('HTTP', 'TCP', 'TLS', 'HTTPS', 'GRPC'),
  withAddress: fc.boolean(),
  targetPort: fc.option(fc.constantFrom(8080, 8443), { nil: undefined }),
  weights: fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 3 }),
});
/** Sidecar resources scoping the sidecar under test. */
const sidecarResource = fc.record({
  egressHosts: fc.constantFrom(['./*'], ['*/*'], ['./reviews.default.svc.cluster.local', 'istio-system/*'], ['*/*.external.test']),
  egressPort: fc.option(fc.constantFrom(9080, 5432), { nil: undefined }),
  outbound: fc.option(fc.constantFrom('REGISTRY_ONLY', 'ALLOW_ANY'), { nil: undefined }),
  ingress: fc.option(fc.constantFrom('127.0.0.1:9080', '0.0.0.0:9080'), { nil: undefined }),
});

const meshConfig = fc.record({
  gatewayRoutes: fc.array(httpRoute, { minLength: 1, maxLength: 4 }),
  meshRoutes: fc.array(httpRoute, { minLength: 1, maxLength: 3 }),
  policies: fc.array(fc.option(trafficPolicy, { nil: undefined }), { minLength: 3, maxLength: 3 }),
  tcpWeights: fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 100 })),
  withHttps: fc.boolean(),
  /** Gateway TLS server shapes on port 8443 beside the HTTPS server. */
  tlsServer: fc.option(fc.record({
    mode: fc.constantFrom('SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL', 'PASSTHROUGH', 'AUTO_PASSTHROUGH'),
    credentialNames: fc.boolean(),
    withCaSecret: fc.boolean(),
    subjectAltNames: fc.option(fc.constant(['spiffe://cluster.local/ns/default/sa/client', 'client.example.com']), { nil: undefined }),
    versions: fc.option(fc.constantFrom(['TLSV1_2', 'TLSV1_3'], ['TLSV1_3', 'TLSV1_3'], ['TLSV1_2', 'TLSV1_2'], ['TLS_AUTO', 'TLS_AUTO']), { nil: undefined }),
    cipherSuites: fc.option(fc.constantFrom(['ECDHE-RSA-AES128-GCM-SHA256'], ['ECDHE-ECDSA-AES256-GCM-SHA384', 'NOT-A-CIPHER'], ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256']), { nil: undefined }),
  }), { nil: undefined }),
  /** A second, newer VirtualService for the same gateway host (merged) and for reviews (conflict on sidecars). */
  secondVs: fc.option(fc.array(httpRoute, { minLength: 1, maxLength: 2 }), { nil: undefined }),
  /** Sidecar TCP/TLS routes on the ratings service. */
  l4: fc.option(fc.record({
    tcpSubnets: fc.option(fc.constantFrom(['10.96.0.11/32'], ['10.0.0.0/8', '192.168.0.0/16']), { nil: undefined }),
    tcpSourceLabels: fc.option(fc.constant({ app: 'reviews' }), { nil: undefined }),
    tlsSni: fc.constantFrom(['ratings.default.svc.cluster.local'], ['a.tls.example.com'], ['*.tls.example.com', 'ratings.default.svc.cluster.local']),
  }), { nil: undefined }),
  /** The gateway VirtualService hands /delegated to a delegate VirtualService with these rules. */
  delegateRoutes: fc.option(fc.array(httpRoute, { minLength: 1, maxLength: 3 }), { nil: undefined }),
  serviceEntries: fc.array(serviceEntry, { maxLength: 2 }),
  sidecar: fc.option(sidecarResource, { nil: undefined }),
});

type MeshConfig = typeof meshConfig extends fc.Arbitrary<infer T> ? T : never;

function objectsFor(c: MeshConfig): unknown[] {
  const docs: unknown[] = [];
  SERVICES.forEach((name, i) => {
    docs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP: `10.96.0.${10 + i}`, ports: [{ name: 'http', port: 9080 }, { name: 'grpc-api', port: 7070 }, { name: 'tcp-db', port: 5432 }] } });
    docs.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4',
      ports: [{ name: 'http', port: 9080 }, { name: 'grpc-api', port: 7070 }, { name: 'tcp-db', port: 5432 }],
      endpoints: [1, 2].map((j) => ({ addresses: [`10.244.${i}.${j}`], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `${name}-v${j}`, namespace: 'default' } })) });
    for (const j of [1, 2]) docs.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-v${j}`, namespace: 'default', labels: { app: name, version: `v${j}` } }, status: { podIP: `10.244.${i}.${j}` } });
    docs.push({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default' }, spec: { host: name, ...(c.policies[i] ? { trafficPolicy: c.policies[i] } : {}), subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } });
  });
  const servers: unknown[] = [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*.example.com'] }, { port: { number: 9000, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] }];
  if (c.withHttps) servers.push({ port: { number: 8443, name: 'https', protocol: 'HTTPS' }, hosts: ['fuzz.example.com'], tls: { mode: 'SIMPLE', credentialName: 'fuzz-cert' } });
  if (c.tlsServer) {
    const t = c.tlsServer;
    const passthrough = t.mode === 'PASSTHROUGH' || t.mode === 'AUTO_PASSTHROUGH';
    const tls: Record<string, unknown> = { mode: t.mode };
    if (!passthrough) {
      if (t.credentialNames) tls.credentialNames = ['fuzz-cert', 'fuzz-ec'];
      else tls.credentialName = t.withCaSecret ? 'fuzz-ca' : 'fuzz-cert';
      if (t.subjectAltNames && t.mode !== 'SIMPLE') tls.subjectAltNames = t.subjectAltNames;
      if (t.versions) { tls.minProtocolVersion = t.versions[0]; tls.maxProtocolVersion = t.versions[1]; }
      if (t.cipherSuites) tls.cipherSuites = t.cipherSuites;
    }
    servers.push({ port: { number: 8443, name: 'tls-extra', protocol: passthrough ? 'TLS' : 'HTTPS' }, hosts: passthrough ? ['*.passthrough.example.com'] : ['secure.example.com'], tls });
  }
  docs.push({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: { istio: 'ingressgateway' }, servers } });
  docs.push(tlsSecret('fuzz-cert', 'istio-system', cert), tlsSecret('fuzz-ec', 'istio-system', ecCert));
  // A Secret with ca.crt (MUTUAL from one Secret) and a separate NAME-cacert Secret for fuzz-cert.
  docs.push({ ...(tlsSecret('fuzz-ca', 'istio-system', cert) as { data: Record<string, string> }), data: { ...(tlsSecret('fuzz-ca', 'istio-system', cert) as { data: Record<string, string> }).data, 'ca.crt': Buffer.from(cert.cert).toString('base64') } });
  docs.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'fuzz-cert-cacert', namespace: 'istio-system' }, data: { cacert: Buffer.from(cert.cert).toString('base64') } });
  const withPort = (r: Record<string, unknown>) => ('route' in r ? { ...r, route: (r.route as Array<{ destination: Record<string, unknown> }>).map((d) => ({ ...d, destination: { ...d.destination, port: { number: 9080 } } })) } : r);
  const withMirrorPort = (r: Record<string, unknown>) => (r.mirror ? { ...r, mirror: { ...(r.mirror as object), port: { number: 9080 } } } : r);
  docs.push({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'edge', namespace: 'default' }, spec: { hosts: ['fuzz.example.com', 'api.example.com'], gateways: ['gw'], http: c.gatewayRoutes.map((r) => withMirrorPort(withPort(r as Record<string, unknown>))),
    tcp: [{ match: [{ port: 9000 }], route: [{ destination: { host: 'ratings', port: { number: 5432 }, subset: 'v1' }, weight: c.tcpWeights[0] }, { destination: { host: 'ratings', port: { number: 5432 }, subset: 'v2' }, weight: c.tcpWeights[1] }] }] } });
  docs.push({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default' }, spec: { hosts: ['reviews'], http: c.meshRoutes.map((r) => withMirrorPort(withPort(r as Record<string, unknown>))) } });
  if (c.delegateRoutes) {
    const edge = docs[docs.length - 2] as { spec: { http: unknown[] } };
    edge.spec.http = [{ name: 'delegated', match: [{ uri: { prefix: '/delegated' } }], delegate: { name: 'edge-delegate' } }, ...edge.spec.http];
    docs.push({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'edge-delegate', namespace: 'default' }, spec: { http: c.delegateRoutes.map((r) => withMirrorPort(withPort(r as Record<string, unknown>))) } });
  }
  if (c.secondVs) {
    const routes = c.secondVs.map((r) => withMirrorPort(withPort(r as Record<string, unknown>)));
    docs.push({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'edge-2', namespace: 'default', creationTimestamp: '2030-01-01T00:00:00Z' }, spec: { hosts: ['api.example.com'], gateways: ['gw', 'mesh'], http: routes.map((r, i) => (i === 0 ? { ...r, match: [{ gateways: ['mesh'], uri: { prefix: '/m' } }, { gateways: ['gw'], uri: { prefix: '/g' } }] } : r)) } });
    docs.push({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews-2', namespace: 'default', creationTimestamp: '2030-01-01T00:00:00Z' }, spec: { hosts: ['reviews.default.svc.cluster.local'], http: routes } });
  }
  if (c.l4) {
    docs.push({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'ratings-l4', namespace: 'default' }, spec: {
      hosts: ['ratings.default.svc.cluster.local', '*.tls.example.com'],
      tcp: [{ match: [{ port: 5432, ...(c.l4.tcpSubnets ? { destinationSubnets: c.l4.tcpSubnets } : {}), ...(c.l4.tcpSourceLabels ? { sourceLabels: c.l4.tcpSourceLabels } : {}) }], route: [{ destination: { host: 'ratings', port: { number: 5432 }, subset: 'v2' } }] },
        { route: [{ destination: { host: 'ratings', port: { number: 5432 } } }] }],
      tls: [{ match: [{ port: 7070, sniHosts: c.l4.tlsSni }], route: [{ destination: { host: 'ratings', port: { number: 7070 }, subset: 'v1' } }] }],
    } });
  }
  c.serviceEntries.forEach((se, i) => docs.push(serviceEntryDoc(se, i)));
  if (c.sidecar) {
    const sc = c.sidecar;
    docs.push({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'default' }, spec: {
      egress: [{ hosts: sc.egressHosts, ...(sc.egressPort ? { port: { number: sc.egressPort, name: sc.egressPort === 9080 ? 'http' : 'tcp', protocol: sc.egressPort === 9080 ? 'HTTP' : 'TCP' } } : {}) }, ...(sc.egressPort ? [{ hosts: ['*/*'] }] : [])],
      ...(sc.outbound ? { outboundTrafficPolicy: { mode: sc.outbound } } : {}),
      ...(sc.ingress ? { ingress: [{ port: { number: 9080, name: 'http', protocol: 'HTTP' }, defaultEndpoint: sc.ingress }] } : {}),
    } });
  }
  return docs;
}

function serviceEntryDoc(se: typeof serviceEntry extends fc.Arbitrary<infer T> ? T : never, i: number): unknown {
  const port = se.protocol === 'HTTP' || se.protocol === 'GRPC' ? 80 + i : se.protocol === 'TCP' ? 6000 + i : 443;
  const name = `${se.protocol.toLowerCase()}-${port}`;
  const endpoints = se.resolution === 'NONE' ? undefined
    : (se.resolution === 'DNS_ROUND_ROBIN' ? se.weights.slice(0, 1) : se.weights).map((w, j) => ({ address: se.resolution === 'STATIC' ? `192.0.2.${10 + j}` : `ep${j}.external.test`, weight: w, labels: { version: `v${j + 1}` }, locality: `region${j}/zone${j}` }));
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: `ext-${i}`, namespace: 'default' },
    spec: {
      hosts: [`svc${i}.external.test`], location: se.location, resolution: se.resolution,
      ...(se.withAddress ? { addresses: [se.resolution === 'NONE' ? `203.0.113.${i * 16}/28` : `240.240.0.${i + 1}`] } : {}),
      ports: [{ number: port, name, protocol: se.protocol, ...(se.targetPort && se.resolution !== 'NONE' ? { targetPort: se.targetPort } : {}) }],
      ...(endpoints ? { endpoints } : {}),
    },
  };
}

describe('Envoy judges the translator (fast-check + envoy --mode validate)', () => {
  const gw = parseNodeId('router~10.0.0.1~gw-0.istio-system~istio-system.svc.cluster.local', { LABELS: { istio: 'ingressgateway' } });
  const sc = parseNodeId('sidecar~10.244.0.1~reviews-v1.default~default.svc.cluster.local', { LABELS: { app: 'reviews', version: 'v1' } });
  assert.ok(gw.ok && sc.ok);

  it('the judge can say no (a negative connect timeout is rejected)', async () => {
    const bad: XdsResources = { listeners: [], routes: [], endpoints: [], secrets: [], clusters: [{ name: 'c', value: { name: 'c', type: 'STATIC', connectTimeout: { seconds: -1, nanos: 0 } } }] };
    const v = await envoyValidate(bad);
    assert.equal(v.ok, false);
    assert.match(v.output, /duration|connect_timeout/i);
  });

  it(`every generated configuration is accepted by Envoy (${RUNS} runs)`, async () => {
    let checked = 0;
    const invalid = new Map<string, number>();
    await fc.assert(fc.asyncProperty(meshConfig, async (c) => {
      const docs = objectsFor(c);
      const objects: Resource[] = [];
      for (const d of docs) {
        const r = validateResource(d);
        if (!r.ok) { // the generator may produce objects Istio rejects; those never reach the translator
          const kind = (d as { kind: string; metadata: { name: string } }).kind;
          invalid.set(kind, (invalid.get(kind) ?? 0) + 1);
          if (process.env.MESHPILOT_FUZZ_DEBUG) process.stderr.write(`invalid ${kind} ${(d as { metadata: { name: string } }).metadata.name}: ${JSON.stringify(r.errors.slice(0, 2))}\n`);
          return true;
        }
        objects.push(r.value);
      }
      const snap = snapshotFromObjects(objects);
      for (const proxy of [gw.value, sc.value]) {
        const res = translate(snap, proxy);
        assert.deepEqual(checkConsistency(res), []);
        const v = await envoyValidate(res);
        if (!v.ok) throw new Error(`Envoy rejected the ${proxy.type} config:\n${v.output.slice(0, 2000)}\ninput:\n${docs.map((d) => stringify(d)).join('---\n')}`);
      }
      checked++;
      return true;
    }), { numRuns: RUNS, seed: process.env.MESHPILOT_FUZZ_SEED ? Number(process.env.MESHPILOT_FUZZ_SEED) : undefined, endOnFailure: true });
    assert.ok(checked >= RUNS * 0.5, `only ${checked} of ${RUNS} generated configurations were valid Istio; invalid: ${JSON.stringify(Object.fromEntries(invalid))}`);
    process.stderr.write(`fuzz: ${checked} of ${RUNS} generated configurations were valid Istio and accepted by Envoy; skipped for an invalid ${JSON.stringify(Object.fromEntries(invalid))}\n`);
  });
});
