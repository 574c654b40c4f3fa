/**
 * The gateway pipeline end to end: files on disk → meshpilot serve (a real child process) → a real
 * Envoy gateway → backends on loopback. Every test checks that no proxy NACKed anything.
 */
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn, selfSignedCert, serviceWithBackends, subsetsRule, tlsSecret, who } from './fixture.js';

type Syncz = Array<{ id: string; types: Record<string, { lastNack?: unknown; versionAcked?: string; versionSent?: string }> }>;

function gateway(httpPort: number, tlsPort: number, redirectPort: number): unknown {
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'public', namespace: 'default' },
    spec: {
      selector: GATEWAY_LABELS,
      servers: [
        { port: { number: httpPort, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['bookinfo.example.com', 'split.example.com', 'live.example.com'] },
        { port: { number: tlsPort, name: 'https-a', protocol: 'HTTPS' }, bind: '127.0.0.1', hosts: ['a.example.com'], tls: { mode: 'SIMPLE', credentialName: 'cert-a' } },
        { port: { number: tlsPort, name: 'https-b', protocol: 'HTTPS' }, bind: '127.0.0.1', hosts: ['b.example.com'], tls: { mode: 'SIMPLE', credentialName: 'cert-b' } },
        { port: { number: redirectPort, name: 'http-redirect', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['a.example.com'], tls: { httpsRedirect: true } },
      ],
    },
  };
}

function vs(name: string, hosts: string[], http: unknown[]): unknown {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts, gateways: ['public'], http } };
}

const seedRouting = vs('bookinfo', ['bookinfo.example.com', 'a.example.com', 'b.example.com'], [
  { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
  { route: [{ destination: { host: 'reviews', subset: 'v3' } }] },
]);

function split(w1: number, w3: number, host = 'split.example.com', name = 'split'): unknown {
  return vs(name, [host], [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: w1 }, { destination: { host: 'reviews', subset: 'v3' }, weight: w3 }] }]);
}

describe('gateway: files → meshpilot → real Envoy → backends', () => {
  const cfg = new ConfigDir();
  const backends: EchoBackend[] = [];
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let httpPort: number;
  let tlsPort: number;
  let redirectPort: number;
  let xdsPort: number;
  const certA = selfSignedCert('a.example.com', ['a.example.com']);
  const certB = selfSignedCert('b.example.com', ['b.example.com']);

  async function assertNoNack(): Promise<void> {
    const syncz = await mp.getJson<Syncz>('/debug/syncz');
    assert.deepEqual(nacksIn(syncz), [], 'no proxy NACKed anything');
  }

  before(async () => {
    for (const v of ['v1', 'v2', 'v3']) backends.push(await startEchoBackend(`reviews-${v}`, '127.0.0.1', 0));
    [httpPort, tlsPort, redirectPort, xdsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    cfg.write('services.yaml', serviceWithBackends('reviews', backends.map((b, i) => ({ backend: b, labels: { version: `v${i + 1}` } }))));
    cfg.write('gateway.yaml', [gateway(httpPort, tlsPort, redirectPort), tlsSecret('cert-a', 'istio-system', certA), tlsSecret('cert-b', 'istio-system', certB)]);
    cfg.write('routing.yaml', [seedRouting, subsetsRule('reviews', ['v1', 'v2', 'v3'])]);
    cfg.write('split.yaml', [split(80, 20), split(100, 0, 'live.example.com', 'live')]);
    mp = await startMeshpilot({ configDir: cfg.dir, xdsAddress: `127.0.0.1:${xdsPort}`, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await who(httpPort, 'bookinfo.example.com')) === 'reviews-v3', 'gateway routes bookinfo.example.com');
  });

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    await Promise.all(backends.map((b) => b.close()));
    cfg.remove();
  });

  it("routes the seed's way: end-user jason to reviews v2, everyone else to v3 (100 requests each)", async () => {
    for (let i = 0; i < 100; i++) {
      assert.equal(await who(httpPort, 'bookinfo.example.com', { 'end-user': 'jason' }), 'reviews-v2');
      assert.equal(await who(httpPort, 'bookinfo.example.com', { 'end-user': 'someone' }), 'reviews-v3');
    }
    // A host no VirtualService declares gets 404.
    assert.equal((await get(httpPort, '/', { host: 'nobody.example.com' })).status, 404);
    await assertNoNack();
  });

  it('splits 80/20 within a binomial tolerance over 1,000 requests', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const w = await who(httpPort, 'split.example.com');
      counts[w] = (counts[w] ?? 0) + 1;
    }
    assert.deepEqual(Object.keys(counts).sort(), ['reviews-v1', 'reviews-v3'], JSON.stringify(counts));
    // n=1000, p=0.8: sd ≈ 12.6; ±5 sd keeps false failures below one in a million.
    assert.ok(counts['reviews-v1'] >= 737 && counts['reviews-v1'] <= 863, `v1 got ${counts['reviews-v1']} of 1000`);
    await assertNoNack();
  });

  it('serves HTTPS with the certificate of each credentialName by SNI, and redirects HTTP to HTTPS', async () => {
    for (const [sni, cert] of [['a.example.com', certA], ['b.example.com', certB]] as const) {
      const peer = await new Promise<{ cn: string; raw: string; body: string }>((resolve, reject) => {
        const sock = tlsConnect({ host: '127.0.0.1', port: tlsPort, servername: sni, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
          const c = sock.getPeerCertificate();
          sock.write(`GET / HTTP/1.1\r\nHost: ${sni}\r\nConnection: close\r\n\r\n`);
          let body = '';
          sock.on('data', (d: Buffer) => (body += d.toString()));
          sock.on('end', () => resolve({ cn: String(c.subject?.CN), raw: c.raw.toString('base64'), body }));
        });
        sock.on('error', reject);
        sock.setTimeout(5000, () => sock.destroy(new Error('tls timeout')));
      });
      assert.equal(peer.cn, sni);
      const expected = cert.cert.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
      assert.equal(peer.raw, expected, `the served certificate for ${sni} is the one from its Secret`);
      assert.match(peer.body, /^HTTP\/1\.1 200/);
      assert.match(peer.body, /reviews-v3/);
    }
    const r = await get(redirectPort, '/reviews?x=1', { host: 'a.example.com' });
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'https://a.example.com/reviews?x=1');
    await assertNoNack();
  });

  it('moves traffic within 2 s when weights change on disk, without a failed request', async () => {
    assert.equal(await who(httpPort, 'live.example.com'), 'reviews-v1');
    const failures: string[] = [];
    const seen: Array<{ at: number; who: string }> = [];
    let stop = false;
    const client = (async () => {
      const until = Date.now() + 20_000;
      while (!stop && Date.now() < until) {
        try {
          const w = await who(httpPort, 'live.example.com');
          if (!w.startsWith('reviews-')) failures.push(w);
          seen.push({ at: Date.now(), who: w });
        } catch (err) {
          failures.push(String(err));
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const changedAt = Date.now();
    cfg.write('split.yaml', [split(80, 20), split(0, 100, 'live.example.com', 'live')]);
    await eventually(async () => seen.length > 0 && seen[seen.length - 1].who === 'reviews-v3', 'traffic moved to v3', 5000);
    const movedAt = seen.find((s) => s.at > changedAt && s.who === 'reviews-v3')!.at;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await client;
    assert.deepEqual(failures, []);
    assert.ok(movedAt - changedAt < 2000, `moved after ${movedAt - changedAt} ms`);
    const after = seen.filter((s) => s.at > movedAt + 50);
    assert.ok(after.length > 0 && after.every((s) => s.who === 'reviews-v3'), 'only v3 after the move');
    await assertNoNack();
  });

  it('an invalid VirtualService on disk is logged and changes nothing: no failed request, no NACK', async () => {
    const failures: string[] = [];
    let stop = false;
    let count = 0;
    const client = (async () => {
      const until = Date.now() + 20_000;
      while (!stop && Date.now() < until) {
        const w = await who(httpPort, 'bookinfo.example.com', { 'end-user': 'jason' }).catch((e: unknown) => String(e));
        count++;
        if (w !== 'reviews-v2') failures.push(w);
      }
    })();
    const bad = vs('bookinfo', ['bookinfo.example.com', 'a.example.com', 'b.example.com'], [
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v1' }, weigth: 100 }] },
    ]);
    cfg.write('routing.yaml', [bad, subsetsRule('reviews', ['v1', 'v2', 'v3'])]);
    const logged = await mp.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes('invalid object ignored') && e.path === 'spec.http[0].route[0].weigth', 10_000);
    assert.equal(logged.object, 'VirtualService default/bookinfo');
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await client;
    assert.ok(count > 10);
    assert.deepEqual(failures, []);
    const metrics = await mp.getText('/metrics');
    assert.match(metrics.body, /meshpilot_invalid_objects_total\{kind="VirtualService",source="file"\} [1-9]/);
    await assertNoNack();
    cfg.write('routing.yaml', [seedRouting, subsetsRule('reviews', ['v1', 'v2', 'v3'])]);
  });

  it('a restarted Envoy reconnects and gets the same config', async () => {
    const before = (await mp.getJson<Syncz>('/debug/syncz'))[0].types;
    await envoy.stop();
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await who(httpPort, 'bookinfo.example.com', { 'end-user': 'jason' })) === 'reviews-v2', 'routing after Envoy restart');
    await eventually(async () => {
      const now = (await mp.getJson<Syncz>('/debug/syncz'))[0]?.types;
      return !!now && ['listeners', 'routes', 'clusters', 'endpoints'].every((t) => now[t]?.versionAcked === before[t]?.versionAcked);
    }, 'same versions acked after restart');
    await assertNoNack();
  });

  it('Envoy keeps serving while meshpilot is down, then resyncs when it is back', async () => {
    await mp.stop();
    for (let i = 0; i < 20; i++) assert.equal(await who(httpPort, 'bookinfo.example.com', { 'end-user': 'jason' }), 'reviews-v2');
    // A change made while meshpilot is down is picked up when it comes back.
    cfg.write('split.yaml', [split(80, 20), split(100, 0, 'live.example.com', 'live')]);
    mp = await startMeshpilot({ configDir: cfg.dir, xdsAddress: `127.0.0.1:${xdsPort}`, debounceMs: 50 });
    await eventually(async () => (await who(httpPort, 'live.example.com')) === 'reviews-v1', 'resynced after meshpilot restart', 30_000);
    await eventually(async () => (await mp.getJson<Syncz>('/debug/syncz')).length === 1, 'gateway reconnected');
    assert.equal(await who(httpPort, 'bookinfo.example.com', { 'end-user': 'jason' }), 'reviews-v2');
    await assertNoNack();
  });
});
