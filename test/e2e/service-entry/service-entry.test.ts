/**
 * ServiceEntry through a real sidecar: the `app` pod's Envoy (iptables capture, REGISTRY_ONLY, so
 * only what a ServiceEntry declares gets out) calls "external" pods without sidecars. Host names
 * resolve through the pods' hosts files (Envoy's DNS clusters resolve them the same way).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MeshHarness, type LoopResult } from '../../helpers/mesh-harness.js';
import { podNetworkUnsupportedReason } from '../../helpers/pod-network.js';
import { eventually, selfSignedCert } from '../gateway/fixture.js';

/** An HTTPS server (args: NAME PORT CERT KEY) answering {pod: "NAME sni=SERVERNAME"}: proof the client spoke TLS and which SNI it sent. */
const HTTPS_APP = `
const https = require('node:https');
const fs = require('node:fs');
const [name, port, cert, key] = process.argv.slice(1);
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ pod: name + ' sni=' + req.socket.servername, host: req.headers.host }));
}).listen(Number(port), '0.0.0.0');
`;

const unsupported = podNetworkUnsupportedReason();

/** N sequential HTTPS requests to IP:443 with a given SNI (certificate not checked); prints {answering app or error: count}. Args: IP SNI N. */
const HTTPS_LOOP = `
const https = require('node:https');
const [ip, servername, n] = process.argv.slice(1);
const counts = {};
const one = () => new Promise((resolve) => {
  const req = https.get({ host: ip, port: 443, servername, headers: { host: servername }, rejectUnauthorized: false, agent: false, timeout: 5000 }, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => { let k = 'HTTP ' + res.statusCode; try { k = JSON.parse(body).pod; } catch {} counts[k] = (counts[k] || 0) + 1; resolve(); });
  });
  req.on('timeout', () => req.destroy(new Error('ETIMEDOUT')));
  req.on('error', (e) => { const k = e.code || e.message; counts[k] = (counts[k] || 0) + 1; resolve(); });
});
(async () => { for (let i = 0; i < Number(n); i++) await one(); console.log(JSON.stringify(counts)); })();
`;

/**
 * Did the sidecar refuse every request? REGISTRY_ONLY answers 502 on a port it has an HTTP
 * listener for and resets the connection (BlackHoleCluster) on any other port.
 */
function refused(r: LoopResult, n: number): boolean {
  return r.failures.length === n && r.failures.every((f) => f === 'HTTP 502' || f === 'ECONNRESET');
}

function serviceEntry(name: string, spec: Record<string, unknown>, namespace = 'default'): Record<string, unknown> {
  return { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace }, spec };
}

describe('ServiceEntry through a sidecar', { skip: unsupported }, () => {
  const h = new MeshHarness();
  const ip = (pod: string) => h.net.pod(pod).ip;
  let caPath = '';

  before(async () => {
    await h.start(['app', 'ext-a', 'ext-b', 'ext-c', 'wl-1', 'wl-2', 'wl-3']);
    h.cfg.write('base.yaml', [
      { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'default' }, spec: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app', namespace: 'default', labels: { app: 'app' } }, status: { podIP: ip('app'), phase: 'Running' } },
      ...['wl-1', 'wl-2', 'wl-3'].map((p) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: p, namespace: 'default', labels: { app: p === 'wl-3' ? 'other' : 'wl' } }, status: { podIP: ip(p), phase: 'Running' } })),
    ]);
    h.net.addHost('api.ext.test', ip('ext-a'));
    h.net.addHost('unknown.ext.test', ip('ext-b'));
    h.net.addHost('backend-c.ext.test', ip('ext-c'));
    h.net.addHost('tls.ext.test', ip('ext-c'));
    h.net.addHost('db.ext.test', ip('ext-b'));
    const { cert, key } = selfSignedCert('tls.ext.test', ['tls.ext.test']);
    caPath = join(h.work, 'tls-ext-cert.pem');
    const keyPath = join(h.work, 'tls-ext-key.pem');
    writeFileSync(caPath, cert, { mode: 0o644 });
    writeFileSync(keyPath, key, { mode: 0o600 });
    h.spawnScript('ext-c', HTTPS_APP, ['tls-backend', '443', caPath, keyPath]);
    h.spawnScript('ext-a', HTTPS_APP, ['ext-a-tls', '443', caPath, keyPath]);
    h.httpApp('ext-a', 'ext-a', 8000);
    h.httpApp('ext-a', 'ext-a:8001', 8001);
    h.httpApp('ext-b', 'ext-b', 8000);
    h.httpApp('ext-c', 'ext-c', 8000);
    for (const p of ['wl-1', 'wl-2', 'wl-3']) h.httpApp(p, p, 9000);
    h.tcpApp('ext-a', 'ext-a', 7000);
    h.tcpApp('ext-b', 'ext-b', 7000);
    await h.sidecar('app', { app: 'app' });
  });

  after(async () => { await h.stop(); });

  it("seed egress: REGISTRY_ONLY blocks an external API until a DNS ServiceEntry (MESH_EXTERNAL) declares it; Envoy resolves the name itself (STRICT_DNS) and targetPort maps 80 → 8000", async () => {
    // No ServiceEntry yet: the sidecar refuses, nothing reaches ext-a.
    await eventually(async () => refused(await h.http('app', 'http://api.ext.test/', {}, 1), 1), 'blocked before the ServiceEntry', 30_000);
    h.cfg.write('se-api.yaml', [serviceEntry('api', {
      hosts: ['api.ext.test'], location: 'MESH_EXTERNAL', resolution: 'DNS',
      ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8000 }],
    })]);
    await eventually(async () => (await h.http('app', 'http://api.ext.test/', {}, 1)).counts['ext-a'] === 1, 'allowed by the ServiceEntry', 30_000);
    assert.deepEqual(await h.http('app', 'http://api.ext.test/', {}, 30), { counts: { 'ext-a': 30 }, failures: [] });
    // The app connects to ext-b's address but says Host api.ext.test: Envoy routes by host and
    // connects where its own DNS lookup of api.ext.test points (ext-a), not where the app went.
    assert.deepEqual(await h.http('app', `http://${ip('ext-b')}:80/`, { host: 'api.ext.test' }, 10), { counts: { 'ext-a': 10 }, failures: [] });
    // A host no ServiceEntry declares stays blocked.
    const unknown = await h.http('app', 'http://unknown.ext.test:8000/', {}, 5);
    assert.ok(refused(unknown, 5), JSON.stringify(unknown));
    const cfg = await h.configOf('app');
    assert.equal(cfg.clusters.find((c) => c.name === 'outbound|80||api.ext.test')?.value.type, 'STRICT_DNS');
    await h.assertNoNack();
  });

  it("seed egress TLS origination: the app speaks plain HTTP to port 80, a DestinationRule originates TLS to 443 and the external server sees TLS with SNI; the ServiceEntry's subjectAltNames are verified", async () => {
    const docs = (sans: string[]) => [
      serviceEntry('tls-ext', { hosts: ['tls.ext.test'], location: 'MESH_EXTERNAL', resolution: 'DNS', subjectAltNames: sans,
        ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 443 }, { number: 443, name: 'https', protocol: 'TLS' }] }),
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'tls-ext', namespace: 'default' }, spec: {
        host: 'tls.ext.test', trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'SIMPLE', caCertificates: caPath } }] } } },
    ];
    h.cfg.write('se-tls.yaml', docs(['tls.ext.test']));
    await eventually(async () => (await h.http('app', 'http://tls.ext.test/', {}, 1)).counts['tls-backend sni=tls.ext.test'] === 1, 'TLS originated', 30_000);
    assert.deepEqual(await h.http('app', 'http://tls.ext.test/', {}, 20), { counts: { 'tls-backend sni=tls.ext.test': 20 }, failures: [] });
    // A certificate that does not carry the ServiceEntry's subject alt name is refused by Envoy.
    h.cfg.write('se-tls.yaml', docs(['other.ext.test']));
    await eventually(async () => (await h.http('app', 'http://tls.ext.test/', {}, 1)).counts['HTTP 503'] === 1, 'SAN mismatch refused', 30_000);
    const refusedSan = await h.http('app', 'http://tls.ext.test/', {}, 5);
    assert.deepEqual(refusedSan.counts, { 'HTTP 503': 5 });
    await h.assertNoNack();
  });

  it('TLS ports without addresses are told apart by SNI: a DNS entry and a wildcard NONE entry share port 443; an unknown SNI is refused', async () => {
    h.cfg.write('se-sni.yaml', [serviceEntry('wild-tls', { hosts: ['*.wildtls.test'], location: 'MESH_EXTERNAL', resolution: 'NONE', ports: [{ number: 443, name: 'tls', protocol: 'TLS' }] })]);
    const https = async (target: string, sni: string, n: number) => {
      const r = await h.net.exec('app', process.execPath, ['-e', HTTPS_LOOP, target, sni, String(n)], { timeoutMs: 60_000 });
      return JSON.parse(r.stdout) as Record<string, number>;
    };
    // The app dials ext-a; SNI tls.ext.test goes to tls.ext.test's cluster (Envoy resolves it to ext-c), untouched TLS end to end.
    await eventually(async () => (await https(ip('ext-a'), 'tls.ext.test', 1))['tls-backend sni=tls.ext.test'] === 1, 'SNI chain for tls.ext.test', 30_000);
    assert.deepEqual(await https(ip('ext-a'), 'tls.ext.test', 10), { 'tls-backend sni=tls.ext.test': 10 });
    await eventually(async () => (await https(ip('ext-a'), 'a.wildtls.test', 1))['ext-a-tls sni=a.wildtls.test'] === 1, 'wildcard SNI chain', 30_000);
    assert.deepEqual(await https(ip('ext-a'), 'b.wildtls.test', 10), { 'ext-a-tls sni=b.wildtls.test': 10 });
    const unknown = await https(ip('ext-a'), 'unknown.ext.test', 3);
    assert.equal(Object.keys(unknown).some((k) => k.startsWith('ext-a-tls') || k.startsWith('tls-backend')), false, JSON.stringify(unknown));
    await h.assertNoNack();
  });

  it('DNS_ROUND_ROBIN: one endpoint named by DNS (LOGICAL_DNS), reached on the port mapped by targetPort', async () => {
    h.cfg.write('se-rr.yaml', [serviceEntry('legacy', {
      hosts: ['legacy.ext.test'], location: 'MESH_EXTERNAL', resolution: 'DNS_ROUND_ROBIN',
      ports: [{ number: 8080, name: 'http', protocol: 'HTTP', targetPort: 8000 }],
      endpoints: [{ address: 'backend-c.ext.test' }],
    })]);
    await eventually(async () => (await h.http('app', `http://${ip('ext-b')}:8080/`, { host: 'legacy.ext.test' }, 1)).counts['ext-c'] === 1, 'legacy.ext.test served', 30_000);
    assert.deepEqual(await h.http('app', `http://${ip('ext-b')}:8080/`, { host: 'legacy.ext.test:8080' }, 20), { counts: { 'ext-c': 20 }, failures: [] });
    assert.equal((await h.configOf('app')).clusters.find((c) => c.name === 'outbound|8080||legacy.ext.test')?.value.type, 'LOGICAL_DNS');
    await h.assertNoNack();
  });

  it('STATIC endpoints: weights split traffic 1:3 over 400 requests, endpoint ports map by port name, labels make DestinationRule subsets, locality reaches EDS', async () => {
    h.cfg.write('se-static.yaml', [
      serviceEntry('static', {
        hosts: ['static.ext.test'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
        ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8000 }],
        endpoints: [
          { address: ip('ext-a'), ports: { http: 8001 }, labels: { pool: 'a' }, weight: 1, locality: 'r1/z1' },
          { address: ip('ext-b'), labels: { pool: 'b' }, weight: 3, locality: 'r2/z2' },
        ],
      }),
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'static', namespace: 'default' }, spec: {
        host: 'static.ext.test', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } }, subsets: [{ name: 'a', labels: { pool: 'a' } }, { name: 'b', labels: { pool: 'b' } }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'static', namespace: 'default' }, spec: {
        hosts: ['static.ext.test'],
        http: [{ match: [{ headers: { 'x-pool': { exact: 'a' } } }], route: [{ destination: { host: 'static.ext.test', subset: 'a' } }] }, { route: [{ destination: { host: 'static.ext.test' } }] }] } },
    ]);
    const url = `http://${ip('ext-c')}/`;
    await eventually(async () => (await h.http('app', url, { host: 'static.ext.test', 'x-pool': 'a' }, 1)).counts['ext-a:8001'] === 1, 'static.ext.test served', 30_000);
    const split = await h.http('app', url, { host: 'static.ext.test' }, 400);
    process.stderr.write(`ServiceEntry STATIC weights 1:3 over 400 requests: ${JSON.stringify(split.counts)}\n`);
    assert.deepEqual(split.failures, []);
    // Expected 100 / 300; binomial sd ≈ 8.7, and Envoy's weighted round robin is much tighter.
    assert.ok(split.counts['ext-a:8001'] >= 60 && split.counts['ext-a:8001'] <= 140, JSON.stringify(split.counts));
    assert.equal(split.counts['ext-a:8001'] + split.counts['ext-b'], 400);
    assert.deepEqual(await h.http('app', url, { host: 'static.ext.test', 'x-pool': 'a' }, 20), { counts: { 'ext-a:8001': 20 }, failures: [] });
    const cla = (await h.configOf('app')).endpoints.find((e) => e.name === 'outbound|80||static.ext.test')?.value as { endpoints: Array<{ locality?: { region: string; zone: string } }> };
    assert.deepEqual(cla.endpoints.map((e) => e.locality), [{ region: 'r1', zone: 'z1' }, { region: 'r2', zone: 'z2' }]);
    await h.assertNoNack();
  });

  it('resolution NONE: HTTP goes to the address the app dialled (ORIGINAL_DST), also for a wildcard host; a TCP port with a CIDR address lets only that range through', async () => {
    // Blocked before the ServiceEntries are in (REGISTRY_ONLY: the TCP catch-all is BlackHoleCluster).
    assert.equal((await h.tcp('app', ip('ext-a'), 7000, 2))['ext-a'], undefined);
    assert.ok(refused(await h.http('app', `http://${ip('ext-c')}:8000/`, { host: 'none.ext.test' }, 2), 2));
    h.cfg.write('se-none.yaml', [
      serviceEntry('none-http', { hosts: ['none.ext.test'], resolution: 'NONE', ports: [{ number: 8000, name: 'http', protocol: 'HTTP' }] }),
      serviceEntry('none-wild', { hosts: ['*.wild.test'], resolution: 'NONE', ports: [{ number: 8000, name: 'http', protocol: 'HTTP' }] }),
      serviceEntry('none-tcp', { hosts: ['tcp.ext.test'], resolution: 'NONE', addresses: [`${ip('ext-a')}/32`], ports: [{ number: 7000, name: 'tcp', protocol: 'TCP' }] }),
    ]);
    await eventually(async () => (await h.http('app', `http://${ip('ext-c')}:8000/`, { host: 'none.ext.test' }, 1)).counts['ext-c'] === 1, 'none.ext.test passes', 30_000);
    assert.deepEqual(await h.http('app', `http://${ip('ext-b')}:8000/`, { host: 'none.ext.test' }, 10), { counts: { 'ext-b': 10 }, failures: [] });
    assert.deepEqual(await h.http('app', `http://${ip('ext-c')}:8000/`, { host: 'none.ext.test' }, 10), { counts: { 'ext-c': 10 }, failures: [] });
    // A wildcard host admits any name under it; other names on the port get REGISTRY_ONLY's 502.
    assert.deepEqual(await h.http('app', `http://${ip('ext-a')}:8000/`, { host: 'a.wild.test' }, 5), { counts: { 'ext-a': 5 }, failures: [] });
    assert.deepEqual((await h.http('app', `http://${ip('ext-a')}:8000/`, { host: 'a.other.test' }, 3)).counts, { 'HTTP 502': 3 });
    await eventually(async () => (await h.tcp('app', ip('ext-a'), 7000, 1))['ext-a'] === 1, 'CIDR range passes', 30_000);
    assert.deepEqual(await h.tcp('app', ip('ext-a'), 7000, 10), { 'ext-a': 10 });
    const outside = await h.tcp('app', ip('ext-b'), 7000, 5);
    assert.equal(outside['ext-b'], undefined, `outside the CIDR is blocked: ${JSON.stringify(outside)}`);
    await h.assertNoNack();
  });

  it('addresses: a VIP nothing owns reaches STATIC endpoints (TCP), and the same port without the VIP stays blocked; a TCP DNS entry without addresses takes its whole port', async () => {
    const vip = h.net.serviceIp(50);
    assert.equal((await h.tcp('app', h.net.serviceIp(77), 7200, 2))['ext-b'], undefined, 'port 7200 blocked before');
    h.cfg.write('se-vip.yaml', [serviceEntry('vip', {
      hosts: ['vip.ext.test'], addresses: [vip], resolution: 'STATIC', location: 'MESH_EXTERNAL',
      ports: [{ number: 7100, name: 'tcp', protocol: 'TCP', targetPort: 7000 }],
      endpoints: [{ address: ip('ext-b') }],
    }), serviceEntry('db', {
      hosts: ['db.ext.test'], resolution: 'DNS', location: 'MESH_EXTERNAL', ports: [{ number: 7200, name: 'tcp', protocol: 'TCP', targetPort: 7000 }],
    })]);
    await eventually(async () => (await h.tcp('app', vip, 7100, 1))['ext-b'] === 1, 'VIP served', 30_000);
    assert.deepEqual(await h.tcp('app', vip, 7100, 10), { 'ext-b': 10 });
    const other = await h.tcp('app', h.net.serviceIp(51), 7100, 3);
    assert.equal(other['ext-b'], undefined, JSON.stringify(other));
    // Any destination on port 7200 now goes to db.ext.test, resolved by Envoy (ext-b), on 7000.
    await eventually(async () => (await h.tcp('app', h.net.serviceIp(77), 7200, 1))['ext-b'] === 1, 'port 7200 served by db.ext.test', 30_000);
    assert.deepEqual(await h.tcp('app', ip('ext-a'), 7200, 5), { 'ext-b': 5 });
    await h.assertNoNack();
  });

  it('workloadSelector (MESH_INTERNAL): endpoints are the pods whose labels match, on the port; MESH_EXTERNAL vs MESH_INTERNAL in Envoy’s config', async () => {
    h.cfg.write('se-wl.yaml', [serviceEntry('wl', {
      hosts: ['wl.internal.test'], location: 'MESH_INTERNAL', resolution: 'STATIC',
      ports: [{ number: 9000, name: 'http', protocol: 'HTTP' }], workloadSelector: { labels: { app: 'wl' } },
    })]);
    const url = `http://${ip('ext-c')}:9000/`;
    await eventually(async () => (await h.http('app', url, { host: 'wl.internal.test' }, 1)).failures.length === 0, 'wl.internal.test served', 30_000);
    const r = await h.http('app', url, { host: 'wl.internal.test' }, 60);
    assert.deepEqual(r.failures, []);
    assert.deepEqual(Object.keys(r.counts).sort(), ['wl-1', 'wl-2'], JSON.stringify(r.counts));
    // What location changes in Envoy's config (as in Istio): a MESH_EXTERNAL cluster is marked
    // istio.external (no peer metadata exchange; Istio also never applies auto mTLS to it).
    const istioMeta = async (cluster: string) => {
      const dump = JSON.parse(await h.sidecars.get('app')!.configDump()) as { configs: Array<{ dynamic_active_clusters?: Array<{ cluster: { name: string; metadata?: { filter_metadata?: { istio?: Record<string, unknown> } } } }> }> };
      return dump.configs.flatMap((c) => c.dynamic_active_clusters ?? []).find((c) => c.cluster.name === cluster)?.cluster.metadata?.filter_metadata?.istio;
    };
    await h.sidecars.get('app')!.waitFor((d) => d.includes('outbound|9000||wl.internal.test'), 'wl cluster in Envoy');
    assert.equal((await istioMeta('outbound|9000||wl.internal.test'))?.external, undefined);
    assert.equal((await istioMeta('outbound|80||api.ext.test'))?.external, true);
    await h.assertNoNack();
  });

  it("exportTo: a ServiceEntry exported only to its own namespace is invisible to other namespaces' sidecars", async () => {
    const se = (exportTo: string[]) => [serviceEntry('private', { hosts: ['private.ext.test'], exportTo, resolution: 'STATIC', ports: [{ number: 8100, name: 'http', protocol: 'HTTP', targetPort: 8000 }], endpoints: [{ address: ip('ext-c') }] }, 'other')];
    const call = () => h.http('app', `http://${ip('ext-a')}:8100/`, { host: 'private.ext.test' }, 3);
    h.cfg.write('se-export.yaml', se(['default']));
    await eventually(async () => (await call()).counts['ext-c'] === 3, 'exported to default', 30_000);
    h.cfg.write('se-export.yaml', se(['.']));
    await eventually(async () => (await call()).counts['ext-c'] === undefined, 'not exported to default', 30_000);
    const r = await call();
    assert.ok(refused(r, 3), JSON.stringify(r));
    await h.assertNoNack();
  });

  it('a ServiceEntry sharing its host with a Kubernetes Service in the same namespace loses: the Service is used', async () => {
    const vip = h.net.serviceIp(60);
    h.cfg.write('se-shared.yaml', [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'shared', namespace: 'default' }, spec: { clusterIP: vip, ports: [{ name: 'http', port: 8200, targetPort: 8000 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'shared-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'shared' } }, addressType: 'IPv4',
        ports: [{ name: 'http', port: 8000, protocol: 'TCP' }], endpoints: [{ addresses: [ip('ext-a')], conditions: { ready: true } }] },
      serviceEntry('shared', { hosts: ['shared.default.svc.cluster.local'], resolution: 'STATIC', location: 'MESH_INTERNAL',
        ports: [{ number: 8200, name: 'http', protocol: 'HTTP', targetPort: 8000 }], endpoints: [{ address: ip('ext-b') }] }),
    ]);
    const url = `http://${vip}:8200/`;
    await eventually(async () => (await h.http('app', url, { host: 'shared.default.svc.cluster.local' }, 1)).failures.length === 0, 'shared served', 30_000);
    assert.deepEqual(await h.http('app', url, { host: 'shared.default.svc.cluster.local' }, 20), { counts: { 'ext-a': 20 }, failures: [] });
    await h.assertNoNack();
  });
});
