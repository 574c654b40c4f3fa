/**
 * TLS that the gateway does not terminate, through a real Envoy: PASSTHROUGH routes by the SNI of
 * VirtualService tls routes to the backend that terminates TLS itself; AUTO_PASSTHROUGH routes the
 * SNI Istio's clients send across networks (outbound_.PORT_.SUBSET_.HOST) straight to that cluster,
 * without any VirtualService.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../helpers/ports.js';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { ConfigDir, eventually, GATEWAY_LABELS, selfSignedCert, tlsSecret } from './fixture.js';
import { startGatewayStack, type GatewayStack } from './gateway-stack.js';
import { derOf, tlsGet } from './tls-certs.js';


/** An HTTPS backend with its own certificate that answers {"name": NAME}. */
class TlsBackend {
  readonly pair: { cert: string; key: string };
  server!: Server;
  port = 0;
  constructor(readonly name: string, hosts: string[]) {
    this.pair = selfSignedCert(name, hosts);
  }
  async start(): Promise<void> {
    this.server = createServer({ cert: this.pair.cert, key: this.pair.key }, (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: this.name }));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.port = a && typeof a === 'object' ? a.port : 0;
  }
  close(): Promise<void> {
    return new Promise((r) => { this.server.closeAllConnections(); this.server.close(() => r()); });
  }
}

const serviceEntry = (name: string, host: string, port: number, endpoints: Array<{ backend: TlsBackend; labels?: Record<string, string> }>) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'default' },
  spec: {
    hosts: [host], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: port, name: 'tls', protocol: 'TLS' }],
    endpoints: endpoints.map((e) => ({ address: '127.0.0.1', ports: { tls: e.backend.port }, ...(e.labels ? { labels: e.labels } : {}) })),
  },
});

describe('gateway TLS passthrough through a real Envoy', () => {
  const cfg = new ConfigDir();
  const one = new TlsBackend('one', ['one.pass.example.com']);
  const two = new TlsBackend('two', ['two.pass.example.com']);
  const v1 = new TlsBackend('auto-v1', ['auto.test.internal']);
  const v2 = new TlsBackend('auto-v2', ['auto.test.internal']);
  const hidden = new TlsBackend('hidden', ['hidden.example.org']);
  const all = [one, two, v1, v2, hidden];
  const termCert = selfSignedCert('term.example.com', ['term.example.com']);
  let web: EchoBackend;
  let stack: GatewayStack;
  let passPort: number;
  let autoPort: number;

  before(async () => {
    for (const b of all) await b.start();
    web = await startEchoBackend('web', '127.0.0.1', 0);
    [passPort, autoPort] = [await freePort(), await freePort()];
    cfg.write('services.yaml', [
      serviceEntry('one', 'one.test.internal', 443, [{ backend: one }]),
      serviceEntry('two', 'two.test.internal', 443, [{ backend: two }]),
      serviceEntry('auto', 'auto.test.internal', 8443, [{ backend: v1, labels: { version: 'v1' } }, { backend: v2, labels: { version: 'v2' } }]),
      serviceEntry('hidden', 'hidden.example.org', 8443, [{ backend: hidden }]),
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'web', namespace: 'default' },
        spec: { hosts: ['web.test.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '127.0.0.1', ports: { http: web.port } }] } },
      tlsSecret('term', 'istio-system', termCert),
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'auto', namespace: 'default' },
        spec: { host: 'auto.test.internal', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } },
    ]);
    cfg.write('gateway.yaml', [{
      apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' },
      spec: {
        selector: GATEWAY_LABELS,
        servers: [
          { port: { number: passPort, name: 'tls-pass', protocol: 'TLS' }, bind: '127.0.0.1', hosts: ['*.pass.example.com'], tls: { mode: 'PASSTHROUGH' } },
          // The same port also terminates HTTPS for another host.
          { port: { number: passPort, name: 'https-term', protocol: 'HTTPS' }, bind: '127.0.0.1', hosts: ['term.example.com'], tls: { mode: 'SIMPLE', credentialName: 'term' } },
          { port: { number: autoPort, name: 'tls-auto', protocol: 'TLS' }, bind: '127.0.0.1', hosts: ['*.test.internal'], tls: { mode: 'AUTO_PASSTHROUGH' } },
        ],
      },
    }, {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'pass', namespace: 'default' },
      spec: {
        hosts: ['*.pass.example.com'], gateways: ['gw'],
        tls: [
          { match: [{ sniHosts: ['one.pass.example.com'] }], route: [{ destination: { host: 'one.test.internal', port: { number: 443 } } }] },
          { match: [{ sniHosts: ['two.pass.example.com'] }], route: [{ destination: { host: 'two.test.internal', port: { number: 443 } } }] },
        ],
      },
    }, {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'term', namespace: 'default' },
      spec: { hosts: ['term.example.com'], gateways: ['gw'], http: [{ route: [{ destination: { host: 'web.test.internal', port: { number: 80 } } }] }] },
    }]);
    stack = await startGatewayStack(cfg);
    await eventually(async () => (await tlsGet(passPort, 'one.pass.example.com')).status === 200, 'passthrough up', 30_000);
    await eventually(async () => (await tlsGet(autoPort, 'outbound_.8443_.v1_.auto.test.internal')).status === 200, 'auto passthrough up', 30_000);
  });

  after(async () => {
    // The backends go even when the no-NACK check fails (else they keep the test process alive).
    try {
      await stack?.stop();
    } finally {
      for (const b of all) await b.close();
      await web?.close();
    }
  });

  it('PASSTHROUGH: each SNI reaches its own backend, which terminates TLS with its own certificate; an HTTPS server shares the port', async () => {
    for (let i = 0; i < 10; i++) {
      for (const b of [one, two]) {
        const r = await tlsGet(passPort, `${b.name}.pass.example.com`);
        assert.equal(r.backend, b.name, JSON.stringify(r));
        assert.equal(r.peerCert, derOf(b.pair.cert), 'the backend\'s certificate, not the gateway\'s');
      }
    }
    const term = await tlsGet(passPort, 'term.example.com');
    assert.deepEqual([term.backend, term.peerCert], ['web', derOf(termCert.cert)], 'the same port terminates HTTPS for term.example.com with the gateway\'s certificate');
    const unknown = await tlsGet(passPort, 'three.pass.example.com');
    assert.equal(unknown.status, undefined, `an SNI no tls route matches is refused: ${JSON.stringify(unknown)}`);
  });

  it('AUTO_PASSTHROUGH: outbound_.PORT_.SUBSET_.HOST reaches that subset; the subset-less SNI reaches the service; no VirtualService needed', async () => {
    for (let i = 0; i < 10; i++) {
      assert.equal((await tlsGet(autoPort, 'outbound_.8443_.v1_.auto.test.internal')).backend, 'auto-v1');
      const r = await tlsGet(autoPort, 'outbound_.8443_.v2_.auto.test.internal');
      assert.equal(r.backend, 'auto-v2');
      assert.equal(r.peerCert, derOf(v2.pair.cert), 'TLS is end to end');
    }
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 2; i++) seen.add(String((await tlsGet(autoPort, 'outbound_.8443_._.auto.test.internal')).backend));
    assert.deepEqual([...seen].sort(), ['auto-v1', 'auto-v2'], 'the service cluster balances over both endpoints');
  });

  it('AUTO_PASSTHROUGH refuses hosts outside the server hosts, unknown subsets and plain SNI names', async () => {
    for (const sni of ['outbound_.8443_._.hidden.example.org', 'outbound_.8443_.v3_.auto.test.internal', 'outbound_.9999_._.auto.test.internal', 'auto.test.internal']) {
      const r = await tlsGet(autoPort, sni);
      assert.equal(r.status, undefined, `${sni}: ${JSON.stringify(r)}`);
    }
  });
});
