/**
 * Gateway servers through a real Envoy: every protocol (HTTP, HTTPS, HTTP2 with an h2c client,
 * GRPC with a real gRPC call, TCP, TLS terminated to a TCP route), several servers on one port,
 * server hosts in every form (ns/host, ./host, *, *.domain), bind addresses, the server name as
 * the stats prefix, and httpsRedirect. Each case is judged by what the client got from which backend.
 */
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import type { EnvoyProcess } from '../../helpers/envoy.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, get, selfSignedCert, tlsSecret, type Reply } from './fixture.js';
import { startGatewayStack, type GatewayStack } from './gateway-stack.js';
import { derOf, tlsGet } from './tls-certs.js';

type Obj = Record<string, unknown>;

const SAY = '/test.Echo/Say';
const identity = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

/** An HTTP/1.1 request to address:port with a Host header. */
function getAt(address: string, port: number, host: string, path = '/'): Promise<Reply> {
  return get(port, path, { host }, { address });
}

async function whoAt(address: string, port: number, host: string): Promise<string> {
  const r = await getAt(address, port, host).catch((e: Error) => ({ status: 0, body: e.message }));
  return r.status === 200 ? (JSON.parse(r.body) as { name: string }).name : `HTTP ${r.status}`;
}

/** HTTP/2 with prior knowledge (h2c): the answering backend and the protocol the client spoke. */
function h2cGet(port: number, authority: string): Promise<{ status: number; backend: string }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({ ':path': '/', ':authority': authority });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => { session.close(); resolve({ status, backend: status === 200 ? (JSON.parse(body) as { name: string }).name : body }); });
    req.on('error', reject);
    req.setTimeout(5000, () => req.close());
    req.end();
  });
}

/** A line-oriented exchange over TCP (or TLS when servername is given): sends `line`, returns the first reply line. */
function exchange(port: number, line: string, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const sock = servername
      ? tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => sock.write(`${line}\n`))
      : netConnect({ host: '127.0.0.1', port }, () => sock.write(`${line}\n`));
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) { sock.destroy(); resolve(buf.split('\n')[0]); }
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(buf));
    sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
  });
}

const serviceEntry = (host: string, port: number, protocol: string, backendPort: number): Obj => ({
  apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: host.split('.')[0], namespace: 'default' },
  spec: { hosts: [host], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: port, name: protocol.toLowerCase(), protocol }], endpoints: [{ address: '127.0.0.1', ports: { [protocol.toLowerCase()]: backendPort } }] },
});
const gateway = (name: string, servers: unknown[]): Obj => ({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name, namespace: 'default' }, spec: { selector: GATEWAY_LABELS, servers } });
const routeTo = (backend: string, port = 80) => [{ route: [{ destination: { host: `${backend}.test.internal`, port: { number: port } } }] }];
const vs = (name: string, namespace: string, hosts: string[], gateways: string[], spec: Obj): Obj => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace }, spec: { hosts, gateways, ...spec } });

describe('gateway servers: protocols, hosts, binds, names through a real Envoy', () => {
  const cfg = new ConfigDir();
  const names = ['other-a', 'default-a', 'default-b', 'other-b', 'wild', 'any', 'bind-2', 'bind-3', 'h2', 'shop', 'api'];
  const echo = new Map<string, EchoBackend>();
  let tcpBackend: TcpServer;
  let grpcServer: grpc.Server;
  let stack: GatewayStack;
  let envoy: EnvoyProcess;
  const p: Record<'http' | 'h2' | 'grpc' | 'tcp' | 'tls' | 'https' | 'bind' | 'redirect', number> = { http: 0, h2: 0, grpc: 0, tcp: 0, tls: 0, https: 0, bind: 0, redirect: 0 };
  const shopCert = selfSignedCert('shop.example.com', ['shop.example.com']);
  const apiCert = selfSignedCert('wildcard.api.example.com', ['*.api.example.com']);
  const tcpCert = selfSignedCert('tcp.example.com', ['tcp.example.com']);

  before(async () => {
    for (const n of names) echo.set(n, await startEchoBackend(n, '127.0.0.1', 0));
    tcpBackend = createTcpServer((s) => s.on('data', (d: Buffer) => s.write(`tcp-backend:${d.toString().trim()}\n`)));
    await new Promise<void>((r) => tcpBackend.listen(0, '127.0.0.1', () => r()));
    grpcServer = new grpc.Server();
    grpcServer.addService({ Say: { path: SAY, requestStream: false, responseStream: false, requestSerialize: identity.serialize, requestDeserialize: identity.deserialize, responseSerialize: identity.serialize, responseDeserialize: identity.deserialize } },
      { Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(`grpc-backend:${call.request.toString()}:${call.getHost()}`)) });
    const grpcPort = await new Promise<number>((res, rej) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? rej(e) : res(port))));
    for (const k of Object.keys(p) as Array<keyof typeof p>) p[k] = await freePort();
    const tcpPort = (tcpBackend.address() as { port: number }).port;

    cfg.write('services.yaml', [
      ...names.map((n) => serviceEntry(`${n}.test.internal`, 80, 'HTTP', echo.get(n)!.port)),
      serviceEntry('grpc.test.internal', 7070, 'GRPC', grpcPort),
      serviceEntry('tcp.test.internal', 9000, 'TCP', tcpPort),
    ]);
    cfg.write('secrets.yaml', [tlsSecret('shop', 'istio-system', shopCert), tlsSecret('api', 'istio-system', apiCert), tlsSecret('tcp', 'istio-system', tcpCert)]);
    cfg.write('gateways.yaml', [
      gateway('gw', [
        { port: { number: p.http, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['other/a.example.com', './b.example.com', '*.wild.example.com'] },
        { port: { number: p.h2, name: 'http2', protocol: 'HTTP2' }, bind: '127.0.0.1', hosts: ['h2.example.com'] },
        { port: { number: p.grpc, name: 'grpc', protocol: 'GRPC' }, bind: '127.0.0.1', hosts: ['grpc.example.com'] },
        { port: { number: p.tcp, name: 'tcp', protocol: 'TCP' }, bind: '127.0.0.1', hosts: ['tcp.example.com'] },
        { port: { number: p.tls, name: 'tls', protocol: 'TLS' }, bind: '127.0.0.1', hosts: ['tcp.example.com'], tls: { mode: 'SIMPLE', credentialName: 'tcp' } },
        { name: 'shop-https', port: { number: p.https, name: 'https-shop', protocol: 'HTTPS' }, bind: '127.0.0.1', hosts: ['shop.example.com'], tls: { mode: 'SIMPLE', credentialName: 'shop' } },
        { name: 'api-https', port: { number: p.https, name: 'https-api', protocol: 'HTTPS' }, bind: '127.0.0.1', hosts: ['*.api.example.com'], tls: { mode: 'SIMPLE', credentialName: 'api' } },
        { port: { number: p.bind, name: 'http-bind', protocol: 'HTTP' }, bind: '127.0.0.2', hosts: ['bind.example.com'] },
        { port: { number: p.redirect, name: 'http-redirect', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['shop.example.com'], tls: { httpsRedirect: true } },
      ]),
      // A second Gateway: another server on the same HTTP port (host *), and the same bind port on 127.0.0.3.
      gateway('gw-more', [
        { port: { number: p.http, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*'] },
        { port: { number: p.bind, name: 'http-bind', protocol: 'HTTP' }, bind: '127.0.0.3', hosts: ['bind.example.com'] },
      ]),
    ]);
    cfg.write('routes.yaml', [
      vs('a', 'other', ['a.example.com'], ['default/gw'], { http: routeTo('other-a') }),
      vs('a', 'default', ['a.example.com'], ['gw'], { http: routeTo('default-a') }),
      vs('b', 'default', ['b.example.com'], ['gw'], { http: routeTo('default-b') }),
      vs('b', 'other', ['b.example.com'], ['default/gw'], { http: routeTo('other-b') }),
      vs('wild', 'default', ['x.wild.example.com'], ['gw'], { http: routeTo('wild') }),
      vs('any', 'other', ['anything.example.net'], ['default/gw-more'], { http: routeTo('any') }),
      vs('h2', 'default', ['h2.example.com'], ['gw'], { http: routeTo('h2') }),
      vs('grpc', 'default', ['grpc.example.com'], ['gw'], { http: [{ match: [{ uri: { prefix: '/test.Echo/' } }], route: [{ destination: { host: 'grpc.test.internal', port: { number: 7070 } } }] }] }),
      vs('tcp', 'default', ['tcp.example.com'], ['gw'], { tcp: [{ route: [{ destination: { host: 'tcp.test.internal', port: { number: 9000 } } }] }] }),
      vs('shop', 'default', ['shop.example.com'], ['gw'], { http: routeTo('shop') }),
      vs('api', 'default', ['*.api.example.com'], ['gw'], { http: routeTo('api') }),
      vs('bind2', 'default', ['bind.example.com'], ['gw'], { http: routeTo('bind-2') }),
      vs('bind3', 'default', ['bind.example.com'], ['gw-more'], { http: routeTo('bind-3') }),
    ]);
    stack = await startGatewayStack(cfg);
    ({ envoy } = stack);
    await eventually(async () => (await whoAt('127.0.0.1', p.http, 'a.example.com')) === 'other-a', 'HTTP server up', 30_000);
  });

  after(async () => {
    // The backends go even when the no-NACK check fails (else they keep the test process alive).
    try {
      await stack?.stop();
    } finally {
      for (const b of echo.values()) await b.close();
      tcpBackend?.close();
      grpcServer?.forceShutdown();
    }
  });

  it('server hosts: ns/host admits only that namespace, ./host only the Gateway\'s, *.domain its subdomains, * everything else', async () => {
    assert.equal(await whoAt('127.0.0.1', p.http, 'a.example.com'), 'other-a', 'other/a.example.com: the VirtualService in "other"');
    assert.equal(await whoAt('127.0.0.1', p.http, 'b.example.com'), 'default-b', './b.example.com: the VirtualService in the Gateway namespace');
    assert.equal(await whoAt('127.0.0.1', p.http, 'x.wild.example.com'), 'wild');
    assert.equal(await whoAt('127.0.0.1', p.http, 'y.wild.example.com'), 'HTTP 404', 'no VirtualService for this subdomain');
    assert.equal(await whoAt('127.0.0.1', p.http, 'anything.example.net'), 'any', 'the * server of a second Gateway on the same port');
    assert.equal(await whoAt('127.0.0.1', p.http, 'nothing.example.net'), 'HTTP 404');
  });

  it('HTTP2: an h2c client (prior knowledge) is served', async () => {
    const r = await h2cGet(p.h2, 'h2.example.com');
    assert.deepEqual(r, { status: 200, backend: 'h2' });
  });

  it('GRPC: a real unary gRPC call goes through the gateway to the gRPC backend', async () => {
    const client = new grpc.Client(`127.0.0.1:${p.grpc}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc.example.com' });
    try {
      const reply = await new Promise<Buffer>((resolve, reject) => {
        client.makeUnaryRequest(SAY, identity.serialize, identity.deserialize, Buffer.from('hello'), new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e, r) => (e || !r ? reject(e ?? new Error('no reply')) : resolve(r)));
      });
      assert.equal(reply.toString(), 'grpc-backend:hello:grpc.example.com');
    } finally {
      client.close();
    }
  });

  it('TCP: bytes reach the TCP backend through the tcp route', async () => {
    assert.equal(await exchange(p.tcp, 'ping'), 'tcp-backend:ping');
  });

  it('TLS (SIMPLE) with a tcp route: the gateway terminates TLS and forwards plain bytes', async () => {
    assert.equal(await exchange(p.tls, 'over-tls', 'tcp.example.com'), 'tcp-backend:over-tls');
  });

  it('HTTPS: two servers on one port by SNI (exact and *.domain), each with its certificate; the server name is the stats prefix', async () => {
    const stat = 'http.shop-https.downstream_rq_total';
    const base = (await envoy.stats('http\\.shop-https\\.downstream_rq_total'))[stat] ?? 0;
    const shop = await tlsGet(p.https, 'shop.example.com');
    assert.equal(shop.backend, 'shop');
    assert.equal(shop.peerCert, derOf(shopCert.cert));
    const api = await tlsGet(p.https, 'v1.api.example.com');
    assert.equal(api.backend, 'api');
    assert.equal(api.peerCert, derOf(apiCert.cert));
    assert.equal((await tlsGet(p.https, 'other.example.com')).status, undefined, 'no server for this SNI');
    for (let i = 0; i < 4; i++) assert.equal((await tlsGet(p.https, 'shop.example.com')).backend, 'shop');
    await eventually(async () => {
      const now = (await envoy.stats('http\\.shop-https\\.downstream_rq_total'))[stat] ?? 0;
      return now - base >= 5;
    }, 'requests counted under http.shop-https.*');
  });

  it('bind: the same port on 127.0.0.2 and 127.0.0.3 serves different Gateways', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal(await whoAt('127.0.0.2', p.bind, 'bind.example.com'), 'bind-2');
      assert.equal(await whoAt('127.0.0.3', p.bind, 'bind.example.com'), 'bind-3');
    }
    await assert.rejects(getAt('127.0.0.1', p.bind, 'bind.example.com'), 'nothing listens on 127.0.0.1 for that port');
  });

  it('httpsRedirect: plain HTTP gets 301 to https', async () => {
    const r = await getAt('127.0.0.1', p.redirect, 'shop.example.com', '/cart?x=1');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'https://shop.example.com/cart?x=1');
  });
});
