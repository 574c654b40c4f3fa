/**
 * VirtualService `tcp` and `tls` route matching on a real gateway Envoy: TCP routes chosen by
 * match.port and match.gateways with weighted destinations; TLS PASSTHROUGH connections routed by
 * SNI to the backend whose sniHosts match (and match.port honoured), without terminating TLS.
 */
import assert from 'node:assert/strict';
import { createServer as createTcpServer, connect as tcpConnect, type Server } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, nacksIn, selfSignedCert } from './fixture.js';

const API = 'networking.istio.io/v1';
type Obj = Record<string, unknown>;

interface Named { name: string; port: number; server: Server }

/** A TCP (or TLS, with a certificate) server that writes its name and closes. */
async function startNamed(name: string, cert?: { cert: string; key: string }): Promise<Named> {
  const server: Server = cert
    ? createTlsServer({ cert: cert.cert, key: cert.key }, (s) => s.end(name))
    : createTcpServer((s) => s.end(name));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  return { name, port: a && typeof a === 'object' ? a.port : 0, server };
}

/** What a plain TCP connection to the port reads until close ('' on reset). */
function readTcp(port: number): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const s = tcpConnect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { s.destroy(); resolve(data); }, 10_000);
    s.setEncoding('utf8');
    s.on('data', (c: string) => (data += c));
    s.on('close', () => { clearTimeout(timer); resolve(data); });
    s.on('error', () => undefined);
  });
}

/** What a TLS connection with the given SNI reads ('' when the gateway refuses it). */
function readTls(port: number, servername: string): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const s = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    const timer = setTimeout(() => { s.destroy(); resolve(data); }, 10_000);
    s.setEncoding('utf8');
    s.on('data', (c: string) => (data += c));
    s.on('close', () => { clearTimeout(timer); resolve(data); });
    s.on('error', () => undefined);
  });
}

describe('VirtualService tcp and tls routes on a real gateway Envoy', () => {
  const cfg = new ConfigDir();
  const backends: Record<string, Named> = {};
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let tcp1: number;
  let tcp2: number;
  let tlsPort: number;

  before(async () => {
    for (const n of ['tcp-a', 'tcp-b', 'tcp-x']) backends[n] = await startNamed(n);
    for (const n of ['tls-a', 'tls-b']) backends[n] = await startNamed(n, selfSignedCert(`${n}.sni.example.com`, [`${n.slice(4)}.sni.example.com`]));
    [tcp1, tcp2, tlsPort] = [await freePort(), await freePort(), await freePort()];
    const se = (n: string, protocol: string): Obj => ({ apiVersion: API, kind: 'ServiceEntry', metadata: { name: n, namespace: 'default' },
      spec: { hosts: [`${n}.test.internal`], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 9000, name: protocol.toLowerCase(), protocol }], endpoints: [{ address: '127.0.0.1', ports: { [protocol.toLowerCase()]: backends[n].port } }] } });
    const dest = (n: string, weight?: number): Obj => ({ destination: { host: `${n}.test.internal`, port: { number: 9000 } }, ...(weight !== undefined ? { weight } : {}) });
    cfg.write('config.yaml', [
      se('tcp-a', 'TCP'), se('tcp-b', 'TCP'), se('tcp-x', 'TCP'), se('tls-a', 'TLS'), se('tls-b', 'TLS'),
      { apiVersion: API, kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { selector: GATEWAY_LABELS, servers: [
        { port: { number: tcp1, name: 'tcp-1', protocol: 'TCP' }, bind: '127.0.0.1', hosts: ['*'] },
        { port: { number: tcp2, name: 'tcp-2', protocol: 'TCP' }, bind: '127.0.0.1', hosts: ['*'] },
        { port: { number: tlsPort, name: 'tls', protocol: 'TLS' }, bind: '127.0.0.1', hosts: ['*.sni.example.com'], tls: { mode: 'PASSTHROUGH' } },
      ] } },
      // Another Gateway (not on this proxy): routes matching only it do not apply here.
      { apiVersion: API, kind: 'Gateway', metadata: { name: 'elsewhere', namespace: 'default' }, spec: { selector: { istio: 'elsewhere' }, servers: [{ port: { number: 9999, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] }] } },
      { apiVersion: API, kind: 'VirtualService', metadata: { name: 'tcp', namespace: 'default' }, spec: { hosts: ['*'], gateways: ['gw', 'elsewhere'], tcp: [
        { match: [{ gateways: ['elsewhere'] }], route: [dest('tcp-x')] },
        { match: [{ port: tcp2 }], route: [dest('tcp-b')] },
        { match: [{ port: tcp1 }], route: [dest('tcp-a', 75), dest('tcp-b', 25)] },
      ] } },
      { apiVersion: API, kind: 'VirtualService', metadata: { name: 'tls', namespace: 'default' }, spec: { hosts: ['*.sni.example.com'], gateways: ['gw'], tls: [
        { match: [{ sniHosts: ['c.sni.example.com'], port: 1 }], route: [dest('tls-a')] },
        { match: [{ sniHosts: ['a.sni.example.com'], port: tlsPort }], route: [dest('tls-a')] },
        { match: [{ sniHosts: ['b.sni.example.com'] }], route: [dest('tls-b')] },
      ] } },
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await readTcp(tcp2)) === 'tcp-b' && (await readTls(tlsPort, 'b.sni.example.com')) === 'tls-b', 'listeners loaded');
  });

  after(async () => {
    const syncz = await mp.getJson<Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>>('/debug/syncz');
    assert.deepEqual(nacksIn(syncz), [], 'no NACK');
    await envoy?.stop();
    await mp?.stop();
    for (const b of Object.values(backends)) { b.server.close(); }
    cfg.remove();
  });

  it('tcp: match.port picks the route per server port; a route for another gateway never applies', async () => {
    for (let i = 0; i < 5; i++) assert.equal(await readTcp(tcp2), 'tcp-b');
  });

  it('tcp: weighted destinations split connections 75/25 (within tolerance over 120 connections)', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 120; i++) {
      const who = await readTcp(tcp1);
      counts[who] = (counts[who] ?? 0) + 1;
    }
    assert.equal(counts['tcp-x'], undefined, 'the route for gateway "elsewhere" is skipped');
    assert.equal((counts['tcp-a'] ?? 0) + (counts['tcp-b'] ?? 0), 120, JSON.stringify(counts));
    // 75% of 120 = 90, sd ≈ 4.7: accept ±5 sd.
    assert.ok(counts['tcp-a'] >= 66 && counts['tcp-a'] <= 114, JSON.stringify(counts));
  });

  it('tls: passthrough by SNI to the backend whose sniHosts match; match.port honoured; unknown SNI refused', async () => {
    assert.equal(await readTls(tlsPort, 'a.sni.example.com'), 'tls-a');
    assert.equal(await readTls(tlsPort, 'b.sni.example.com'), 'tls-b');
    assert.equal(await readTls(tlsPort, 'c.sni.example.com'), '', 'its only route matches another port');
    assert.equal(await readTls(tlsPort, 'zzz.other.org'), '', 'no route for that SNI');
  });
});
