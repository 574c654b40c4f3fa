/**
 * Gateway certificates over SDS through a real Envoy: a Secret that does not exist yet (or holds a
 * key that does not match its certificate) leaves its server waiting while the rest of the port
 * keeps working, and the server starts when the Secret appears; a rotated Secret reaches Envoy over SDS alone — new handshakes get the new certificate,
 * open connections keep going, and no listener is modified or drained.
 */
import assert from 'node:assert/strict';
import { Agent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import type { EnvoyProcess } from '../../helpers/envoy.js';
import type { MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, selfSignedCert, serviceWithBackends, tlsSecret } from './fixture.js';
import { startGatewayStack, type GatewayStack, type Syncz } from './gateway-stack.js';
import { derOf, tlsGet } from './tls-certs.js';


const LISTENER_STATS = ['listener_manager.listener_added', 'listener_manager.listener_modified', 'listener_manager.listener_in_place_updated', 'listener_manager.listener_removed',
  'listener_manager.total_listeners_draining', 'listener_manager.total_filter_chains_draining'];

/** One request on a keep-alive agent: status, whether the socket was reused, and its peer certificate. */
function keepAliveGet(agent: Agent, port: number, servername: string): Promise<{ status: number; reused: boolean; peerCert: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername, path: '/', headers: { host: servername }, agent, rejectUnauthorized: false, timeout: 5000 }, (res) => {
      const peerCert = (res.socket as TLSSocket).getPeerCertificate().raw.toString('base64');
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, peerCert }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('gateway secrets over SDS through a real Envoy', () => {
  const cfg = new ConfigDir();
  let backend: EchoBackend;
  let stack: GatewayStack;
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;
  const rotOld = selfSignedCert('rot.example.com', ['rot.example.com']);
  const rotNew = selfSignedCert('rot.example.com', ['rot.example.com']);
  const late = selfSignedCert('late.example.com', ['late.example.com']);
  // A certificate with somebody else's key: Envoy would reject it, so meshpilot must not send it.
  const broken = { cert: selfSignedCert('broken.example.com', ['broken.example.com']).cert, key: late.key };

  const listenerStats = async () => {
    const s = await envoy.stats('listener_manager\\.');
    return Object.fromEntries(LISTENER_STATS.map((k) => [k, s[k] ?? 0]));
  };
  const server = (name: string) => ({ port: { number: port, name: `https-${name}`, protocol: 'HTTPS' }, bind: '127.0.0.1', hosts: [`${name}.example.com`], tls: { mode: 'SIMPLE', credentialName: name } });

  before(async () => {
    backend = await startEchoBackend('web', '127.0.0.1', 0);
    port = await freePort();
    cfg.write('services.yaml', serviceWithBackends('web', [{ backend, labels: {} }]));
    cfg.write('secret-rot.yaml', [tlsSecret('rot', 'istio-system', rotOld)]);
    cfg.write('secret-broken.yaml', [tlsSecret('broken', 'istio-system', broken)]);
    cfg.write('gateway.yaml', [{
      apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' },
      spec: { selector: GATEWAY_LABELS, servers: [server('rot'), server('late'), server('broken')] },
    }, {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' },
      spec: { hosts: ['rot.example.com', 'late.example.com', 'broken.example.com'], gateways: ['gw'], http: [{ route: [{ destination: { host: 'web' } }] }] },
    }]);
    stack = await startGatewayStack(cfg);
    ({ mp, envoy } = stack);
    await eventually(async () => (await tlsGet(port, 'rot.example.com')).status === 200, 'rot.example.com served', 30_000);
  });

  after(async () => {
    // The backends go even when the no-NACK check fails (else they keep the test process alive).
    try {
      await stack?.stop();
    } finally {
      await backend?.close();
    }
  });

  it('a server whose Secret does not exist yet waits; the rest of the port works; the server starts when the Secret appears', async () => {
    const waiting = await tlsGet(port, 'late.example.com');
    assert.equal(waiting.status, undefined, `late.example.com has no certificate yet: ${JSON.stringify(waiting)}`);
    assert.equal((await tlsGet(port, 'broken.example.com')).status, undefined, 'a Secret whose key does not match its certificate is not served (and not sent: no NACK)');
    assert.equal((await tlsGet(port, 'rot.example.com')).status, 200);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await keepAliveGet(agent, port, 'rot.example.com');
      assert.equal(first.status, 200);
      const failures: string[] = [];
      let stop = false;
      let sent = 0;
      const client = (async () => {
        const until = Date.now() + 20_000;
        while (!stop && Date.now() < until) {
          const r = await tlsGet(port, 'rot.example.com');
          sent++;
          if (r.status !== 200) failures.push(JSON.stringify(r));
        }
      })();
      cfg.write('secret-late.yaml', [tlsSecret('late', 'istio-system', late)]);
      await eventually(async () => (await tlsGet(port, 'late.example.com')).status === 200, 'late.example.com served once its Secret exists', 15_000);
      stop = true;
      await client;
      assert.ok(sent >= 5, `sent ${sent}`);
      assert.deepEqual(failures, [], 'rot.example.com never failed while the listener gained a server');
      const r = await tlsGet(port, 'late.example.com');
      assert.equal(r.peerCert, derOf(late.cert));
      assert.equal(r.backend, 'web');
      const again = await keepAliveGet(agent, port, 'rot.example.com');
      assert.deepEqual([again.status, again.reused], [200, true], 'the open connection of the other server was not drained');
    } finally {
      agent.destroy();
    }
  });

  it('rotation: a changed Secret reaches Envoy over SDS; new handshakes see the new certificate, open connections continue, no listener change or drain', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const open = await keepAliveGet(agent, port, 'rot.example.com');
      assert.equal(open.peerCert, derOf(rotOld.cert));
      const statsBefore = await listenerStats();
      const ldsBefore = (await mp.getJson<Syncz>('/debug/syncz'))[0].types.listeners?.versionAcked;
      cfg.write('secret-rot.yaml', [tlsSecret('rot', 'istio-system', rotNew)]);
      await eventually(async () => (await tlsGet(port, 'rot.example.com')).peerCert === derOf(rotNew.cert), 'new handshakes get the rotated certificate', 15_000);
      for (let i = 0; i < 5; i++) {
        const r = await tlsGet(port, 'rot.example.com');
        assert.equal(r.status, 200);
        assert.equal(r.peerCert, derOf(rotNew.cert));
      }
      const cont = await keepAliveGet(agent, port, 'rot.example.com');
      assert.deepEqual([cont.status, cont.reused, cont.peerCert === derOf(rotOld.cert)], [200, true, true], 'the connection opened before the rotation goes on');
      assert.deepEqual(await listenerStats(), statsBefore, 'no listener added, modified, updated in place, removed or drained');
      const ldsAfter = (await mp.getJson<Syncz>('/debug/syncz'))[0].types.listeners?.versionAcked;
      assert.equal(ldsAfter, ldsBefore, 'no new listener version was pushed for a certificate change');
    } finally {
      agent.destroy();
    }
  });
});
