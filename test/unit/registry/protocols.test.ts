/** Istio's protocol selection for Kubernetes ports (appProtocol, port-name prefix) and ServiceEntry protocol names. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProtocol, protocolOf } from '../../../src/registry/services.js';

describe('protocolOf: Kubernetes service ports', () => {
  const table: Array<[string, Parameters<typeof protocolOf>[0], string]> = [
    ['port name http', { name: 'http' }, 'HTTP'],
    ['prefix before the first dash', { name: 'http-web' }, 'HTTP'],
    ['http2', { name: 'http2' }, 'HTTP2'],
    ['https', { name: 'https-admin' }, 'HTTPS'],
    ['grpc prefix', { name: 'grpc-api' }, 'GRPC'],
    ['grpc-web exactly', { name: 'grpc-web' }, 'GRPC-WEB'],
    ['grpc-web with a suffix', { name: 'grpc-web-ui' }, 'GRPC-WEB'],
    ['tcp', { name: 'tcp-db' }, 'TCP'],
    ['tls', { name: 'tls' }, 'TLS'],
    ['mongo', { name: 'mongo-primary' }, 'MONGO'],
    ['redis', { name: 'redis' }, 'REDIS'],
    ['mysql', { name: 'mysql-x' }, 'MYSQL'],
    ['names are case-insensitive', { name: 'HTTP-Web' }, 'HTTP'],
    ['udp by name (Istio parses it; the proxy skips UDP)', { name: 'udp-dns' }, 'UDP'],
    ['unknown name is TCP (Istio would sniff)', { name: 'web' }, 'TCP'],
    ['a known word not as prefix is unknown', { name: 'myhttp' }, 'TCP'],
    ['unnamed port', {}, 'TCP'],
    ['appProtocol over the name', { name: 'web', appProtocol: 'http' }, 'HTTP'],
    ['appProtocol wins over a named protocol', { name: 'http', appProtocol: 'grpc' }, 'GRPC'],
    ['unknown appProtocol does not fall back to the name', { name: 'http', appProtocol: 'custom' }, 'TCP'],
    ['appProtocol prefix', { appProtocol: 'http-alt' }, 'HTTP'],
    ['appProtocol case-insensitive', { appProtocol: 'HTTPS' }, 'HTTPS'],
    ['kubernetes.io/h2c', { appProtocol: 'kubernetes.io/h2c' }, 'HTTP2'],
    ['bare h2c', { name: 'tcp', appProtocol: 'h2c' }, 'HTTP2'],
    ['kubernetes.io/ws', { appProtocol: 'kubernetes.io/ws' }, 'HTTP'],
    ['kubernetes.io/wss', { appProtocol: 'kubernetes.io/wss' }, 'HTTPS'],
    ['grpc-web appProtocol', { appProtocol: 'grpc-web' }, 'GRPC-WEB'],
    ['UDP transport wins over everything', { name: 'http', protocol: 'UDP', appProtocol: 'http' }, 'UDP'],
    ['SCTP transport is not UDP', { name: 'http', protocol: 'SCTP' }, 'HTTP'],
    ['null appProtocol (EndpointSlice form) is ignored', { name: 'http', appProtocol: null }, 'HTTP'],
  ];
  for (const [what, port, want] of table) it(`${what}: ${JSON.stringify(port)} → ${want}`, () => assert.equal(protocolOf(port), want));
});

describe('parseProtocol: ServiceEntry / Gateway port protocols', () => {
  const table: Array<[string | undefined, string]> = [
    ['HTTP', 'HTTP'], ['http', 'HTTP'], ['HTTP2', 'HTTP2'], ['GRPC', 'GRPC'], ['GRPC-Web', 'GRPC-WEB'], ['HTTPS', 'HTTPS'],
    ['TLS', 'TLS'], ['TCP', 'TCP'], ['MONGO', 'MONGO'], ['Redis', 'REDIS'], ['MySQL', 'MYSQL'], ['UDP', 'UDP'],
    [undefined, 'TCP'], ['SMTP', 'UNSUPPORTED'], ['http-web', 'UNSUPPORTED'],
  ];
  for (const [given, want] of table) it(`${String(given)} → ${want}`, () => assert.equal(parseProtocol(given), want));
});
