/**
 * Table-driven checks of schema and semantic validation: each case names the object, the field
 * path we expect in the error and a fragment of the message (or that the object is valid).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationToMillis, validateResource } from '../../../src/api/index.js';
import { destinationRule, gateway, http0, serviceEntry, sidecar, virtualService } from './fixtures.js';

type Case = [name: string, doc: unknown, expect: 'ok' | { path: string; message: RegExp }];

const cases: Case[] = [
  // --- VirtualService: schema ---
  ['valid seed VirtualService', virtualService(), 'ok'],
  ['typo weigth is an unknown field', virtualService((s) => { (http0(s).route as object[])[0] = { destination: { host: 'reviews' }, weigth: 1 }; }), { path: 'spec.http[0].route[0].weigth', message: /unknown field "weigth"/ }],
  ['unknown top-level spec field', virtualService((s) => { s.host = 'x'; }), { path: 'spec.host', message: /unknown field/ }],
  ['port out of range', virtualService((s) => { (http0(s).route as Array<Record<string, unknown>>)[0].destination = { host: 'reviews', port: { number: 70000 } }; }), { path: 'spec.http[0].route[0].destination.port.number', message: /65535|too big|<=/i }],
  ['bad duration', virtualService((s) => { http0(s).timeout = '10 seconds'; }), { path: 'spec.http[0].timeout', message: /duration/ }],
  ['durations in Go form', virtualService((s) => { http0(s).timeout = '1h2m'; http0(s).retries = { attempts: 3, perTryTimeout: '1.5s' }; }), 'ok'],
  ['wrong type', virtualService((s) => { s.hosts = 'reviews'; }), { path: 'spec.hosts', message: /array/i }],
  ['bad enum', virtualService((s) => { http0(s).corsPolicy = { allowOrigins: [{ exact: 'a' }], unmatchedPreflights: 'SOMETIMES' }; }), { path: 'spec.http[0].corsPolicy.unmatchedPreflights', message: /FORWARD|IGNORE|option/i }],
  ['bad apiVersion', { ...virtualService(), apiVersion: 'networking.istio.io/v2' }, { path: 'apiVersion', message: /v1alpha3/ }],
  ['missing kind', { apiVersion: 'v1', metadata: { name: 'x' } }, { path: 'kind', message: /kind is required/ }],
  ['missing name', { ...virtualService(), metadata: {} }, { path: 'metadata.name', message: /required/ }],
  // --- VirtualService: semantics ---
  ['no hosts and gateways = delegate with gateways', virtualService((s) => { s.hosts = []; s.gateways = ['gw']; }), { path: 'spec.gateways', message: /delegate/ }],
  ['route and redirect together', virtualService((s) => { http0(s).redirect = { uri: '/x' }; }), { path: 'spec.http[0]', message: /only one of route, redirect/ }],
  ['no action', virtualService((s) => { delete http0(s).route; }), { path: 'spec.http[0]', message: /one of route, redirect, directResponse or delegate is required/ }],
  ['redirect code', virtualService((s) => { delete http0(s).route; http0(s).redirect = { uri: '/x', redirectCode: 200 }; }), { path: 'spec.http[0].redirect.redirectCode', message: /301/ }],
  ['directResponse status range', virtualService((s) => { delete http0(s).route; http0(s).directResponse = { status: 99 }; }), { path: 'spec.http[0].directResponse.status', message: /between 200 and 599/ }],
  ['directResponse with body', virtualService((s) => { delete http0(s).route; http0(s).directResponse = { status: 503, body: { string: 'down' } }; }), 'ok'],
  ['negative weight', virtualService((s) => { http0(s).route = [{ destination: { host: 'a' }, weight: -1 }, { destination: { host: 'b' }, weight: 101 }]; }), { path: 'spec.http[0].route[0].weight', message: /negative/ }],
  ['all weights zero', virtualService((s) => { http0(s).route = [{ destination: { host: 'a' }, weight: 0 }, { destination: { host: 'b' }, weight: 0 }]; }), { path: 'spec.http[0].route', message: /weight must be positive/ }],
  ['invalid RE2 regex (lookbehind)', virtualService((s) => { http0(s).match = [{ uri: { regex: '(?<=a)b' } }]; }), { path: 'spec.http[0].match[0].uri.regex', message: /RE2/ }],
  ['invalid RE2 regex (backreference)', virtualService((s) => { http0(s).match = [{ headers: { 'x-a': { regex: '(a)\\1' } } }]; }), { path: 'spec.http[0].match[0].headers.x-a.regex', message: /RE2/ }],
  ['two of exact/prefix', virtualService((s) => { http0(s).match = [{ uri: { exact: '/a', prefix: '/b' } }]; }), { path: 'spec.http[0].match[0].uri', message: /only one of exact, prefix or regex/ }],
  ['empty uri match', virtualService((s) => { http0(s).match = [{ uri: {} }]; }), { path: 'spec.http[0].match[0].uri', message: /one of exact, prefix or regex is required/ }],
  ['header presence match allowed', virtualService((s) => { http0(s).match = [{ headers: { 'x-a': {} }, withoutHeaders: { 'x-b': {} } }]; }), 'ok'],
  ['uppercase header name', virtualService((s) => { http0(s).match = [{ headers: { 'End-User': { exact: 'jason' } } }]; }), { path: 'spec.http[0].match[0].headers.End-User', message: /lowercase/ }],
  ['bad host', virtualService((s) => { s.hosts = ['bad_host!']; }), { path: 'spec.hosts[0]', message: /not a valid DNS name/ }],
  ['wildcard in the middle', virtualService((s) => { s.hosts = ['a.*.com']; }), { path: 'spec.hosts[0]', message: /leftmost/ }],
  ['* host on mesh', virtualService((s) => { s.hosts = ['*']; }), { path: 'spec.hosts[0]', message: /not allowed for VirtualServices bound to the mesh/ }],
  ['* host on a gateway is fine', virtualService((s) => { s.hosts = ['*']; s.gateways = ['istio-system/gw']; }), 'ok'],
  ['bad gateway ref', virtualService((s) => { s.gateways = ['a/b/c']; }), { path: 'spec.gateways[0]', message: /mesh/ }],
  ['duplicate host', virtualService((s) => { s.hosts = ['a.com', 'a.com']; }), { path: 'spec.hosts[1]', message: /duplicate/ }],
  ['retryOn unknown', virtualService((s) => { http0(s).retries = { attempts: 2, retryOn: '5xx,sometimes' }; }), { path: 'spec.http[0].retries.retryOn', message: /sometimes/ }],
  ['retryOn codes and gRPC statuses', virtualService((s) => { http0(s).retries = { attempts: 2, retryOn: '5xx,503,unavailable,cancelled' }; }), 'ok'],
  ['timeout too small', virtualService((s) => { http0(s).timeout = '0s'; }), { path: 'spec.http[0].timeout', message: /at least 1ms/ }],
  ['fault needs delay or abort', virtualService((s) => { http0(s).fault = {}; }), { path: 'spec.http[0].fault', message: /delay or abort/ }],
  ['fault abort status range', virtualService((s) => { http0(s).fault = { abort: { httpStatus: 700, percentage: { value: 10 } } }; }), { path: 'spec.http[0].fault.abort.httpStatus', message: /between 200 and 599/ }],
  ['fault percentage range', virtualService((s) => { http0(s).fault = { abort: { httpStatus: 500, percentage: { value: 101 } } }; }), { path: 'spec.http[0].fault.abort.percentage.value', message: /100|too big|<=/i }],
  ['mirror and mirrors', virtualService((s) => { http0(s).mirror = { host: 'a' }; http0(s).mirrors = [{ destination: { host: 'b' } }]; }), { path: 'spec.http[0]', message: /mirror or mirrors/ }],
  ['rewrite uri and regex', virtualService((s) => { http0(s).rewrite = { uri: '/a', uriRegexRewrite: { match: '^/x', rewrite: '/y' } }; }), { path: 'spec.http[0].rewrite', message: /uri or uriRegexRewrite/ }],
  ['rewrite regex RE2', virtualService((s) => { http0(s).rewrite = { uriRegexRewrite: { match: '(?=x)', rewrite: '/y' } }; }), { path: 'spec.http[0].rewrite.uriRegexRewrite.match', message: /RE2/ }],
  ['cors method', virtualService((s) => { http0(s).corsPolicy = { allowOrigins: [{ exact: 'https://a' }], allowMethods: ['FETCH'] }; }), { path: 'spec.http[0].corsPolicy.allowMethods[0]', message: /not an HTTP method/ }],
  ['header op on pseudo header', virtualService((s) => { http0(s).headers = { request: { set: { ':path': '/x' } } }; }), { path: 'spec.http[0].headers.request.set.:path', message: /cannot be modified/ }],
  ['destination host with namespace', virtualService((s) => { (http0(s).route as Array<Record<string, unknown>>)[0].destination = { host: 'default/reviews' }; }), { path: 'spec.http[0].route[0].destination.host', message: /namespace/ }],
  ['bad subset name', virtualService((s) => { (http0(s).route as Array<Record<string, unknown>>)[0].destination = { host: 'reviews', subset: 'V_1' }; }), { path: 'spec.http[0].route[0].destination.subset', message: /DNS-1123/ }],
  ['source labels with wildcard', virtualService((s) => { http0(s).match = [{ sourceLabels: { app: '*' } }]; }), { path: 'spec.http[0].match[0].sourceLabels.app', message: /wildcard/ }],
  ['tcp route needs destination', virtualService((s) => { delete s.http; s.tcp = [{ match: [{ port: 27017 }] }]; }), { path: 'spec.tcp[0].route', message: /at least one route/ }],
  ['tcp destinationSubnets', virtualService((s) => { delete s.http; s.tcp = [{ match: [{ destinationSubnets: ['10.0.0.0/33'] }], route: [{ destination: { host: 'db' } }] }]; }), { path: 'spec.tcp[0].match[0].destinationSubnets[0]', message: /CIDR/ }],
  ['tls route needs sniHosts', virtualService((s) => { delete s.http; s.tls = [{ match: [{ sniHosts: [] }], route: [{ destination: { host: 'db' } }] }]; }), { path: 'spec.tls[0].match[0].sniHosts', message: /SNI/ }],
  ['tls sniHosts must lie within the VirtualService hosts', virtualService((s) => { delete s.http; s.hosts = ['*.example.com']; s.tls = [{ match: [{ sniHosts: ['a.example.com', 'a.other.org'] }], route: [{ destination: { host: 'db' } }] }]; }), { path: 'spec.tls[0].match[0].sniHosts[1]', message: /not within any of the VirtualService hosts/ }],
  ['exportTo value', virtualService((s) => { s.exportTo = ['Bad_NS']; }), { path: 'spec.exportTo[0]', message: /namespace name/ }],
  ['exportTo * with others', virtualService((s) => { s.exportTo = ['*', 'a']; }), { path: 'spec.exportTo', message: /cannot be combined/ }],
  ['delegate with route', virtualService((s) => { http0(s).delegate = { name: 'r', namespace: 'ns' }; }), { path: 'spec.http[0]', message: /only one of/ }],
  // --- DestinationRule ---
  ['valid DestinationRule', destinationRule(), 'ok'],
  ['duplicate subset names', destinationRule((s) => { s.subsets = [{ name: 'v1' }, { name: 'v1' }]; }), { path: 'spec.subsets[1].name', message: /duplicate subset name/ }],
  ['simple and consistentHash', destinationRule((s) => { s.trafficPolicy = { loadBalancer: { simple: 'RANDOM', consistentHash: { useSourceIp: true } } }; }), { path: 'spec.trafficPolicy.loadBalancer', message: /simple or consistentHash/ }],
  ['consistentHash needs one key', destinationRule((s) => { s.trafficPolicy = { loadBalancer: { consistentHash: { httpHeaderName: 'x', useSourceIp: true } } }; }), { path: 'spec.trafficPolicy.loadBalancer.consistentHash', message: /exactly one/ }],
  ['cookie hash valid', destinationRule((s) => { s.trafficPolicy = { loadBalancer: { consistentHash: { httpCookie: { name: 'u', ttl: '0s' }, ringHash: { minimumRingSize: 1024 } } } }; }), 'ok'],
  ['bad lb enum', destinationRule((s) => { s.trafficPolicy = { loadBalancer: { simple: 'FASTEST' } }; }), { path: 'spec.trafficPolicy.loadBalancer.simple', message: /ROUND_ROBIN|option/ }],
  ['locality distribute sum', destinationRule((s) => { s.trafficPolicy = { loadBalancer: { localityLbSetting: { distribute: [{ from: 'a/*', to: { 'a/*': 50, 'b/*': 40 } }] } } }; }), { path: 'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to', message: /add up to 100/ }],
  ['outlier percent range', destinationRule((s) => { s.trafficPolicy = { outlierDetection: { maxEjectionPercent: 120 } }; }), { path: 'spec.trafficPolicy.outlierDetection.maxEjectionPercent', message: /between 0 and 100/ }],
  ['empty connectionPool', destinationRule((s) => { s.trafficPolicy = { connectionPool: {} }; }), { path: 'spec.trafficPolicy.connectionPool', message: /tcp or http/ }],
  ['MUTUAL needs certs', destinationRule((s) => { s.trafficPolicy = { tls: { mode: 'MUTUAL' } }; }), { path: 'spec.trafficPolicy.tls', message: /credentialName/ }],
  ['credentialName with files', destinationRule((s) => { s.trafficPolicy = { tls: { mode: 'SIMPLE', credentialName: 'c', caCertificates: '/x' } }; }), { path: 'spec.trafficPolicy.tls', message: /cannot be combined/ }],
  ['portLevelSettings duplicate port', destinationRule((s) => { s.trafficPolicy = { portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'RANDOM' } }, { port: { number: 80 } }] }; }), { path: 'spec.trafficPolicy.portLevelSettings[1].port', message: /more than once/ }],
  ['workloadSelector needs exportTo .', destinationRule((s) => { s.workloadSelector = { matchLabels: { app: 'a' } }; s.exportTo = ['*']; }), { path: 'spec.exportTo', message: /own namespace/ }],
  ['maglev tableSize not prime', destinationRule((s) => { s.trafficPolicy = { loadBalancer: { consistentHash: { httpHeaderName: 'x', maglev: { tableSize: 5000 } } } }; }), { path: 'spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize', message: /prime/ }],
  ['ring size above Envoy maximum', destinationRule((s) => { s.trafficPolicy = { loadBalancer: { consistentHash: { httpHeaderName: 'x', ringHash: { minimumRingSize: 9000000 } } } }; }), { path: 'spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize', message: /maximum/ }],
  ['workloadSelector with both spellings', destinationRule((s) => { s.workloadSelector = { matchLabels: { app: 'a' }, labels: { app: 'a' } }; }), { path: 'spec.workloadSelector', message: /matchLabels only/ }],
  ['DR host wildcard', destinationRule((s) => { s.host = '*.example.com'; }), 'ok'],
  // --- Gateway ---
  ['valid Gateway', gateway(), 'ok'],
  ['HTTPS needs tls', gateway((s) => { s.servers = [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['a.com'] }]; }), { path: 'spec.servers[0].tls', message: /must have tls/ }],
  ['SIMPLE needs a credential', gateway((s) => { s.servers = [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['a.com'], tls: { mode: 'SIMPLE' } }]; }), { path: 'spec.servers[0].tls', message: /credentialName/ }],
  ['tls on HTTP only for redirect', gateway((s) => { s.servers = [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['a.com'], tls: { mode: 'SIMPLE', credentialName: 'x' } }]; }), { path: 'spec.servers[0].tls', message: /HTTPS or TLS/ }],
  ['httpsRedirect on HTTP', gateway((s) => { s.servers = [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['a.com'], tls: { httpsRedirect: true } }]; }), 'ok'],
  ['unknown protocol', gateway((s) => { s.servers = [{ port: { number: 80, name: 'http', protocol: 'QUIC' }, hosts: ['a.com'] }]; }), { path: 'spec.servers[0].port.protocol', message: /unknown protocol/ }],
  ['ns/host forms', gateway((s) => { s.servers = [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['./a.com', '*/b.com', 'prod/*.c.com'] }]; }), 'ok'],
  ['bad ns/host', gateway((s) => { s.servers = [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['Prod/a.com'] }]; }), { path: 'spec.servers[0].hosts[0]', message: /namespace/ }],
  ['empty hosts', gateway((s) => { s.servers = [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: [] }]; }), { path: 'spec.servers[0].hosts', message: /at least one host/ }],
  ['no servers', gateway((s) => { s.servers = []; }), { path: 'spec.servers', message: /at least one server/ }],
  ['bad bind', gateway((s) => { s.servers = [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'], bind: 'localhost' }]; }), { path: 'spec.servers[0].bind', message: /IP address/ }],
  ['PASSTHROUGH on HTTPS', gateway((s) => { s.servers = [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['a.com'], tls: { mode: 'PASSTHROUGH' } }]; }), { path: 'spec.servers[0].tls.mode', message: /TLS, not HTTPS/ }],
  ['port name reused for another number', gateway((s) => { s.servers = [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }, { port: { number: 81, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }]; }), { path: 'spec.servers[1].port.name', message: /different port numbers/ }],
  ['selector wildcard', gateway((s) => { s.selector = { istio: '*' }; }), { path: 'spec.selector.istio', message: /wildcard/ }],
  // --- ServiceEntry ---
  ['valid ServiceEntry', serviceEntry(), 'ok'],
  ['STATIC needs endpoints', serviceEntry((s) => { s.resolution = 'STATIC'; }), { path: 'spec.endpoints', message: /STATIC needs endpoints/ }],
  ['STATIC endpoint must be IP', serviceEntry((s) => { s.resolution = 'STATIC'; s.endpoints = [{ address: 'db.example.com' }]; }), { path: 'spec.endpoints[0].address', message: /IP address/ }],
  ['NONE with endpoints', serviceEntry((s) => { s.resolution = 'NONE'; s.endpoints = [{ address: '1.2.3.4' }]; }), { path: 'spec.endpoints', message: /NONE/ }],
  ['DNS_ROUND_ROBIN one endpoint', serviceEntry((s) => { s.resolution = 'DNS_ROUND_ROBIN'; s.endpoints = [{ address: 'a.com' }, { address: 'b.com' }]; }), { path: 'spec.endpoints', message: /at most one/ }],
  ['endpoints and workloadSelector', serviceEntry((s) => { s.resolution = 'STATIC'; s.endpoints = [{ address: '1.2.3.4' }]; s.workloadSelector = { labels: { app: 'x' } }; }), { path: 'spec', message: /endpoints or workloadSelector/ }],
  ['host *', serviceEntry((s) => { s.hosts = ['*']; }), { path: 'spec.hosts[0]', message: /not allowed/ }],
  ['duplicate port number', serviceEntry((s) => { s.ports = [{ number: 80, name: 'a', protocol: 'HTTP' }, { number: 80, name: 'b', protocol: 'HTTP' }]; }), { path: 'spec.ports[1].number', message: /more than once/ }],
  ['endpoint port name unknown', serviceEntry((s) => { s.resolution = 'STATIC'; s.endpoints = [{ address: '1.2.3.4', ports: { http: 8080 } }]; }), { path: 'spec.endpoints[0].ports.http', message: /not one of/ }],
  ['wildcard DNS host without endpoints', serviceEntry((s) => { s.hosts = ['*.example.com']; }), { path: 'spec.hosts[0]', message: /needs endpoints/ }],
  ['addresses CIDR', serviceEntry((s) => { s.addresses = ['10.0.0.0/8']; s.resolution = 'NONE'; }), 'ok'],
  ['bad address', serviceEntry((s) => { s.addresses = ['10.0.0.300']; }), { path: 'spec.addresses[0]', message: /valid IP/ }],
  ['bad resolution enum', serviceEntry((s) => { s.resolution = 'MAGIC'; }), { path: 'spec.resolution', message: /DNS|option/ }],
  ['CIDR with STATIC', serviceEntry((s) => { s.addresses = ['10.0.0.0/8']; s.resolution = 'STATIC'; s.endpoints = [{ address: '10.0.0.1' }]; }), 'ok'],
  ['CIDR with DNS', serviceEntry((s) => { s.addresses = ['10.0.0.0/8']; s.resolution = 'DNS'; }), { path: 'spec.addresses', message: /NONE or STATIC/ }],
  ['DYNAMIC_DNS needs wildcard hosts', serviceEntry((s) => { s.resolution = 'DYNAMIC_DNS'; s.hosts = ['api.example.com']; }), { path: 'spec.hosts[0]', message: /wildcard/ }],
  ['DYNAMIC_DNS without endpoints', serviceEntry((s) => { s.resolution = 'DYNAMIC_DNS'; s.hosts = ['*.example.com']; s.endpoints = [{ address: 'a.example.com' }]; }), { path: 'spec.endpoints', message: /cannot be set/ }],
  // --- Sidecar ---
  ['valid Sidecar', sidecar(), 'ok'],
  ['egress host without namespace', sidecar((s) => { s.egress = [{ hosts: ['reviews.default.svc.cluster.local'] }]; }), { path: 'spec.egress[0].hosts[0]', message: /namespace\/host/ }],
  ['egress ~/*', sidecar((s) => { s.egress = [{ hosts: ['~/*'] }]; }), 'ok'],
  ['catch-all egress not last', sidecar((s) => { s.egress = [{ hosts: ['./*'] }, { port: { number: 80, protocol: 'HTTP', name: 'http' }, hosts: ['./*'] }]; }), { path: 'spec.egress[0]', message: /last/ }],
  ['egressProxy needs ALLOW_ANY', sidecar((s) => { s.outboundTrafficPolicy = { mode: 'REGISTRY_ONLY', egressProxy: { host: 'egress.istio-system.svc.cluster.local' } }; }), { path: 'spec.outboundTrafficPolicy.egressProxy', message: /ALLOW_ANY/ }],
  ['ingress defaultEndpoint form', sidecar((s) => { s.ingress = [{ port: { number: 9080, protocol: 'HTTP', name: 'http' }, defaultEndpoint: '10.0.0.1:9080' }]; }), { path: 'spec.ingress[0].defaultEndpoint', message: /127\.0\.0\.1/ }],
  ['ingress tls with files on an HTTPS port', sidecar((s) => { s.ingress = [{ port: { number: 8443, protocol: 'HTTPS', name: 'https' }, tls: { mode: 'SIMPLE', serverCertificate: '/c.pem', privateKey: '/k.pem' } }]; }), 'ok'],
  ['ingress tls credentialName is not supported on sidecars', sidecar((s) => { s.ingress = [{ port: { number: 8443, protocol: 'HTTPS', name: 'https' }, tls: { mode: 'SIMPLE', credentialName: 'c' } }]; }), { path: 'spec.ingress[0].tls.credentialName', message: /not supported in sidecar ingress tls/ }],
  ['ingress tls ISTIO_MUTUAL', sidecar((s) => { s.ingress = [{ port: { number: 8443, protocol: 'TLS', name: 'tls' }, tls: { mode: 'ISTIO_MUTUAL' } }]; }), { path: 'spec.ingress[0].tls.mode', message: /not allowed/ }],
  ['ingress tls on an HTTP port', sidecar((s) => { s.ingress = [{ port: { number: 8080, protocol: 'HTTP', name: 'http' }, tls: { mode: 'SIMPLE', serverCertificate: '/c.pem', privateKey: '/k.pem' } }]; }), { path: 'spec.ingress[0].tls', message: /HTTPS or TLS/ }],
  ['ingress tls MUTUAL without caCertificates', sidecar((s) => { s.ingress = [{ port: { number: 8443, protocol: 'HTTPS', name: 'https' }, tls: { mode: 'MUTUAL', serverCertificate: '/c.pem', privateKey: '/k.pem' } }]; }), { path: 'spec.ingress[0].tls.caCertificates', message: /needs caCertificates/ }],
  ['empty workloadSelector labels', sidecar((s) => { s.workloadSelector = { labels: {} }; }), { path: 'spec.workloadSelector.labels', message: /must not be empty/ }],
];

describe('validateResource', () => {
  for (const [name, doc, expect] of cases) {
    it(name, () => {
      const r = validateResource(doc);
      if (expect === 'ok') {
        assert.ok(r.ok, `expected valid, got ${JSON.stringify(!r.ok && r.errors)}`);
        return;
      }
      assert.equal(r.ok, false, `expected an error at ${expect.path}`);
      if (r.ok) return;
      const hit = r.errors.find((e) => e.path === expect.path && expect.message.test(e.message) && e.severity === 'error');
      assert.ok(hit, `no error at ${expect.path} matching ${expect.message}; got ${JSON.stringify(r.errors)}`);
    });
  }

  it('Gateway: an unknown cipher suite is a warning naming its path (the translator drops it, as Istio does)', () => {
    const r = validateResource(gateway((s) => { s.servers = [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['a.com'], tls: { mode: 'SIMPLE', credentialName: 'c', cipherSuites: ['ECDHE-RSA-AES128-GCM-SHA256', 'TLS_FAKE'] } }]; }));
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.deepEqual(r.warnings.map((w) => [w.path, w.severity]), [['spec.servers[0].tls.cipherSuites[1]', 'warning']]);
  });

  it('defaults metadata.namespace to "default" and keeps other kinds untouched', () => {
    const r = validateResource({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'Gateway', metadata: { name: 'g' }, spec: { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] } });
    assert.ok(r.ok);
    assert.equal(r.value.metadata.namespace, 'default');
    const d = validateResource({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { anything: true } });
    assert.ok(d.ok);
    assert.equal((d.value as unknown as { spec: { anything: boolean } }).spec.anything, true);
    const ns = validateResource({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } });
    assert.ok(ns.ok);
    assert.equal(ns.value.metadata.namespace, undefined);
  });

  it('accepts all three API versions with one schema', () => {
    for (const v of ['v1', 'v1beta1', 'v1alpha3']) assert.ok(validateResource({ ...virtualService(), apiVersion: `networking.istio.io/${v}` }).ok, v);
  });

  it('reports warnings without rejecting', () => {
    const r = validateResource(destinationRule((s) => { s.trafficPolicy = { outlierDetection: { consecutiveErrors: 5 } }; }));
    assert.ok(r.ok);
    assert.ok(r.warnings.some((w) => w.path === 'spec.trafficPolicy.outlierDetection.consecutiveErrors' && /deprecated/.test(w.message)));
  });
});

describe('durationToMillis', () => {
  for (const [d, ms] of [['10s', 10_000], ['1.5s', 1500], ['100ms', 100], ['1h2m', 3_720_000], ['500us', 0.5], ['2m30s', 150_000]] as const) {
    it(`${d} = ${ms} ms`, () => assert.equal(durationToMillis(d), ms));
  }
  it('rejects malformed durations', () => assert.throws(() => durationToMillis('10')));
});
