/**
 * What a DestinationRule changes on the upstream connection, seen by the backend itself through a
 * real gateway Envoy: PROXY protocol headers (V1 text, V2 binary) and TLS origination — MUTUAL with
 * the client certificate, SNI and subjectAltNames checked, SIMPLE with insecureSkipVerify, and a
 * wrong CA or SAN refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn } from '../gateway/fixture.js';
import { certificateAuthority, issueCertificate, type KeyPair } from '../gateway/tls-certs.js';

const dir = mkdtempSync(join(tmpdir(), 'meshpilot-upstream-'));
const f = (n: string) => join(dir, n);
const cas = new Map<string, KeyPair>();
const writePair = (name: string, pair: KeyPair) => { writeFileSync(f(`${name}.crt`), pair.cert); writeFileSync(f(`${name}.key`), pair.key); };
/** A CA, as files NAME.crt / NAME.key. */
function newCa(name: string): void {
  const ca = certificateAuthority(name);
  cas.set(name, ca);
  writePair(name, ca);
}
/** A certificate for `cn` (with that DNS SAN) signed by the CA named `ca`, as files CN.crt / CN.key. */
function issue(ca: string, cn: string): void {
  writePair(cn, issueCertificate(cas.get(ca)!, cn, [cn]));
}

/** Answers one HTTP/1.1 request per connection with a JSON body describing what it saw before the request. */
function respond(sock: NodeJS.ReadWriteStream & { end(): void }, seen: Record<string, unknown>, onData: (chunk: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  let answered = false;
  sock.on('error', () => { /* the peer may reset after the answer */ });
  sock.on('data', (c: Buffer) => {
    if (answered) return;
    buf = Buffer.concat([buf, c]);
    onData(buf);
    if (buf.includes('\r\n\r\n')) {
      answered = true;
      const body = JSON.stringify(seen);
      sock.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      sock.end();
    }
  });
}

/** A TCP backend that reports the PROXY protocol header it received. */
function proxyProtocolBackend(): NetServer {
  return createNetServer((sock) => {
    const seen: Record<string, unknown> = {};
    respond(sock, seen, (buf) => {
      if (seen.header !== undefined) return;
      if (buf.subarray(0, 6).toString() === 'PROXY ') seen.header = buf.subarray(0, buf.indexOf('\r\n')).toString();
      else if (buf.subarray(0, 12).equals(Buffer.from('0d0a0d0a000d0a515549540a', 'hex'))) seen.header = `v2 version/command 0x${buf[12].toString(16)}`;
      else seen.header = null;
    });
  });
}

/** A TLS backend (cert for backend.internal) that requires a client certificate signed by client-ca if `mutual`. */
function tlsBackend(mutual: boolean): TlsServer {
  return createTlsServer({
    cert: readFileSync(f('backend.internal.crt')), key: readFileSync(f('backend.internal.key')),
    ...(mutual ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(f('client-ca.crt')) } : {}),
  }, (sock: TLSSocket) => {
    const peer = sock.getPeerCertificate();
    respond(sock, { sni: (sock as TLSSocket & { servername?: string }).servername, client: peer?.subject?.CN ?? null }, () => undefined);
  });
}

const listen = (s: NetServer | TlsServer) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));

describe('DestinationRule: PROXY protocol and TLS origination, as the backend sees them', () => {
  const cfg = new ConfigDir();
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;
  const servers: Array<NetServer | TlsServer> = [];

  before(async () => {
    newCa('server-ca');
    newCa('client-ca');
    newCa('other-ca');
    issue('server-ca', 'backend.internal');
    issue('client-ca', 'gateway-client');
    const pp = proxyProtocolBackend();
    const mutual = tlsBackend(true);
    const simple = tlsBackend(false);
    servers.push(pp, mutual, simple);
    const [ppPort, mutualPort, simplePort] = [await listen(pp), await listen(mutual), await listen(simple)];
    port = await freePort();
    const entry = (name: string, target: number) => ({
      apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'default' },
      spec: { hosts: [`${name}.internal`], location: 'MESH_EXTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: target }], endpoints: [{ address: '127.0.0.1' }] },
    });
    const rule = (name: string, trafficPolicy: Record<string, unknown>) => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default' }, spec: { host: `${name}.internal`, trafficPolicy } });
    const hosts = ['pp-v1', 'pp-v2', 'mutual', 'wrong-san', 'insecure', 'wrong-ca', 'cred', 'cred-missing'];
    const pem = (n: string) => Buffer.from(readFileSync(f(n))).toString('base64');
    cfg.write('config.yaml', [
      entry('pp-v1', ppPort), entry('pp-v2', ppPort), entry('mutual', mutualPort), entry('wrong-san', mutualPort), entry('insecure', simplePort), entry('wrong-ca', simplePort),
      entry('cred', mutualPort), entry('cred-missing', mutualPort),
      // The gateway's own namespace holds the client certificate and the CA to trust (Istio: credentialName on gateways).
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'egress-client', namespace: 'istio-system' }, data: { 'tls.crt': pem('gateway-client.crt'), 'tls.key': pem('gateway-client.key'), 'ca.crt': pem('server-ca.crt') } },
      rule('cred', { tls: { mode: 'MUTUAL', credentialName: 'egress-client', sni: 'backend.internal', subjectAltNames: ['backend.internal'] } }),
      rule('cred-missing', { tls: { mode: 'MUTUAL', credentialName: 'not-there', sni: 'backend.internal' } }),
      rule('pp-v1', { proxyProtocol: { version: 'V1' } }),
      rule('pp-v2', { proxyProtocol: { version: 'V2' } }),
      rule('mutual', { tls: { mode: 'MUTUAL', clientCertificate: f('gateway-client.crt'), privateKey: f('gateway-client.key'), caCertificates: f('server-ca.crt'), sni: 'backend.internal', subjectAltNames: ['backend.internal'] } }),
      rule('wrong-san', { tls: { mode: 'MUTUAL', clientCertificate: f('gateway-client.crt'), privateKey: f('gateway-client.key'), caCertificates: f('server-ca.crt'), sni: 'backend.internal', subjectAltNames: ['someone-else.internal'] } }),
      rule('insecure', { tls: { mode: 'SIMPLE', insecureSkipVerify: true, sni: 'anything.example' } }),
      rule('wrong-ca', { tls: { mode: 'SIMPLE', caCertificates: f('other-ca.crt'), sni: 'backend.internal' } }),
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' },
        spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: hosts.map((h) => `${h}.example.com`) }] } },
      ...hosts.map((h) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: h, namespace: 'default' },
        spec: { hosts: [`${h}.example.com`], gateways: ['gw'], http: [{ route: [{ destination: { host: `${h}.internal`, port: { number: 80 } } }], retries: { attempts: 0 } }] } })),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await get(port, '/', { host: 'pp-v1.example.com' })).status === 200, 'routes ready', 20_000);
  });

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    for (const s of servers) s.close();
    cfg.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  const seen = async (host: string) => {
    const r = await get(port, '/', { host: `${host}.example.com` });
    return { status: r.status, body: r.status === 200 ? JSON.parse(r.body) as Record<string, unknown> : r.body };
  };

  it('proxyProtocol V1: the backend reads a PROXY TCP4 line with the client addresses first', async () => {
    const r = await seen('pp-v1');
    assert.equal(r.status, 200);
    assert.match(String((r.body as { header: string }).header), /^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+$/);
  });

  it('proxyProtocol V2: the backend reads the binary v2 signature (PROXY command)', async () => {
    const r = await seen('pp-v2');
    assert.equal(r.status, 200);
    assert.equal((r.body as { header: string }).header, 'v2 version/command 0x21');
  });

  it('tls MUTUAL: the backend sees the SNI and the client certificate; the server SAN is checked', async () => {
    const r = await seen('mutual');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { sni: 'backend.internal', client: 'gateway-client' });
    const bad = await seen('wrong-san');
    assert.equal(bad.status, 503, 'a server certificate without the required SAN is refused');
  });

  it('tls MUTUAL with credentialName: the gateway takes certificate and CA over SDS from its namespace; a missing Secret fails closed', async () => {
    const r = await seen('cred');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { sni: 'backend.internal', client: 'gateway-client' });
    assert.equal((await seen('cred-missing')).status, 503, 'no Secret: no request leaves, and Envoy does not hang waiting');
    const dump = JSON.stringify(await envoy.configDump());
    assert.match(dump, /kubernetes:\/\/egress-client-cacert/);
  });

  it('tls SIMPLE: insecureSkipVerify accepts an unknown server certificate; a wrong CA is refused', async () => {
    const r = await seen('insecure');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { sni: 'anything.example', client: null });
    assert.equal((await seen('wrong-ca')).status, 503);
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
  });
});
