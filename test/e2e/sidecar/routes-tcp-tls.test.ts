/**
 * VirtualService `tcp` and `tls` routes on real sidecars (pods in network namespaces, traffic
 * captured by iptables): TCP routes chosen by the client's labels (sourceLabels) and by the
 * destination address (destinationSubnets, falling through when it does not contain it); TLS routes
 * chosen by SNI (sniHosts, with match.port and destinationSubnets) on a service VIP, TLS not terminated, unknown SNI refused.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { PodNetwork, podNetworkUnsupportedReason } from '../../helpers/pod-network.js';
import { TCP_LOOP, TCP_TAG, startSidecar, type Sidecar } from '../../helpers/sidecar.js';
import { ConfigDir, eventually, nacksIn, selfSignedCert } from '../gateway/fixture.js';

type Syncz = Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>;

const unsupported = podNetworkUnsupportedReason();
if (unsupported) throw new Error(`sidecar tests need a pod network: ${unsupported}`);

/** A TLS server answering each connection with its tag (args: TAG PORT CERT KEY). */
const TLS_TAG = `
const tls = require('node:tls');
const fs = require('node:fs');
const [tag, port, cert, key] = process.argv.slice(1);
tls.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (s) => { s.on('error', () => {}); s.end(tag + '\\n'); }).listen(Number(port), '0.0.0.0');
`;

/** One TLS connection with an SNI: prints what the server said ('' when refused). */
const TLS_ONE = `
const tls = require('node:tls');
const [host, port, servername] = process.argv.slice(1);
let out = '';
const s = tls.connect({ host, port: Number(port), servername, rejectUnauthorized: false, timeout: 5000 });
s.setEncoding('utf8');
s.on('data', (c) => (out += c));
const done = () => { console.log(JSON.stringify(out.trim())); process.exit(0); };
s.on('close', done);
s.on('timeout', () => s.destroy());
s.on('error', () => {});
`;

const API = 'networking.istio.io/v1';

describe('VirtualService tcp and tls routes on real sidecars', () => {
  const net = new PodNetwork();
  const cfg = new ConfigDir();
  const work = mkdtempSync(join(tmpdir(), 'meshpilot-routes-l4-'));
  chmodSync(work, 0o755);
  const apps: ChildProcess[] = [];
  const sidecars: Sidecar[] = [];
  let mp: MeshpilotProcess;

  const tcp = async (client: string, host: string, n: number): Promise<Record<string, number>> => {
    const r = await net.exec(client, process.execPath, ['-e', TCP_LOOP, host, '3306', String(n)], { timeoutMs: 60_000 });
    return JSON.parse(r.stdout) as Record<string, number>;
  };
  const tlsTo = async (client: string, sni: string): Promise<string> => {
    const r = await net.exec(client, process.execPath, ['-e', TLS_ONE, 'secure', '443', sni], { timeoutMs: 30_000 });
    return JSON.parse(r.stdout) as string;
  };

  before(async () => {
    await net.setup();
    const pods = ['client-a', 'client-b', 'db-v1', 'db-v2', 'tls-a', 'tls-b'];
    for (const p of pods) await net.addPod(p);
    const [dbVip, db2Vip, secureVip] = [net.serviceIp(20), net.serviceIp(21), net.serviceIp(30)];
    net.addHost('db', dbVip);
    net.addHost('db2', db2Vip);
    net.addHost('secure', secureVip);
    const pod = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels }, status: { podIP: net.pod(name).ip } });
    const service = (name: string, vip: string, portName: string, port: number, backends: string[]) => [
      { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP: vip, ports: [{ name: portName, port }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-abc`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4',
        ports: [{ name: portName, port, protocol: 'TCP' }],
        endpoints: backends.map((b) => ({ addresses: [net.pod(b).ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: b, namespace: 'default' } })) },
    ];
    const subsets = (host: string, versions: string[]) => ({ apiVersion: API, kind: 'DestinationRule', metadata: { name: host, namespace: 'default' }, spec: { host, subsets: versions.map((v) => ({ name: v, labels: { version: v } })) } });
    const db = (subset: string) => ({ destination: { host: 'db', subset, port: { number: 3306 } } });
    cfg.write('services.yaml', [
      pod('client-a', { app: 'client', role: 'a' }), pod('client-b', { app: 'client', role: 'b' }),
      pod('db-v1', { app: 'db', version: 'v1' }), pod('db-v2', { app: 'db', version: 'v2' }),
      pod('tls-a', { app: 'secure', version: 'a' }), pod('tls-b', { app: 'secure', version: 'b' }),
      ...service('db', dbVip, 'tcp-db', 3306, ['db-v1', 'db-v2']),
      ...service('db2', db2Vip, 'tcp-db', 3306, ['db-v1']),
      ...service('secure', secureVip, 'tls', 443, ['tls-a', 'tls-b']),
      subsets('db', ['v1', 'v2']), subsets('secure', ['a', 'b']),
    ]);
    cfg.write('routes.yaml', [
      { apiVersion: API, kind: 'VirtualService', metadata: { name: 'db', namespace: 'default' }, spec: { hosts: ['db'], tcp: [
        { match: [{ sourceLabels: { role: 'b' } }], route: [db('v2')] },
        // Not the VIP's subnet: falls through.
        { match: [{ destinationSubnets: ['192.0.2.0/24'] }], route: [db('v2')] },
        { route: [db('v1')] },
      ] } },
      // Only a subnet match (the VIP's): a chain for it, the service's own cluster otherwise.
      { apiVersion: API, kind: 'VirtualService', metadata: { name: 'db2', namespace: 'default' }, spec: { hosts: ['db2'], tcp: [
        { match: [{ destinationSubnets: [`${db2Vip}/32`] }], route: [db('v2')] },
      ] } },
      { apiVersion: API, kind: 'VirtualService', metadata: { name: 'secure', namespace: 'default' }, spec: { hosts: ['secure', '*.secure.example'], tls: [
        { match: [{ sniHosts: ['c.secure.example'], port: 8443 }], route: [{ destination: { host: 'secure', subset: 'a' } }] },
        { match: [{ sniHosts: ['a.secure.example'], port: 443 }], route: [{ destination: { host: 'secure', subset: 'a' } }] },
        { match: [{ sniHosts: ['b.secure.example'] }], route: [{ destination: { host: 'secure', subset: 'b' } }] },
        // An SNI route restricted to destination addresses the VIP is not in: never taken here.
        { match: [{ sniHosts: ['s.secure.example'], destinationSubnets: ['192.0.2.0/24'] }], route: [{ destination: { host: 'secure', subset: 'a' } }] },
      ] } },
    ]);
    const xdsSocket = join(work, 'xds.sock');
    mp = await startMeshpilot({ configDir: cfg.dir, xdsAddress: `unix://${xdsSocket}`, debounceMs: 50 });
    for (const v of ['v1', 'v2']) apps.push(net.spawn(`db-${v}`, process.execPath, ['-e', TCP_TAG, `db-${v}`, '3306'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    for (const v of ['a', 'b']) {
      const c = selfSignedCert(`${v}.secure.example`, [`${v}.secure.example`]);
      const [certFile, keyFile] = [join(work, `tls-${v}.crt`), join(work, `tls-${v}.key`)];
      writeFileSync(certFile, c.cert);
      writeFileSync(keyFile, c.key, { mode: 0o644 });
      apps.push(net.spawn(`tls-${v}`, process.execPath, ['-e', TLS_TAG, `tls-${v}`, '443', certFile, keyFile], { stdio: ['ignore', 'pipe', 'pipe'] }));
    }
    for (const [p, role] of [['client-a', 'a'], ['client-b', 'b']]) {
      sidecars.push(await startSidecar(net, { pod: p, labels: { app: 'client', role }, xdsSocket, workDir: work }));
    }
    for (const s of sidecars) await s.waitFor((d) => d.includes(`${secureVip}_443`) && d.includes(`${db2Vip}_3306`) && d.includes('outbound|3306|v2|db.default.svc.cluster.local'), 'TCP/TLS listeners and clusters');
  });

  after(async () => {
    for (const p of [...apps, ...sidecars.map((s) => s.proc)]) p.kill('SIGKILL');
    await mp?.stop();
    await net.teardown();
    cfg.remove();
    rmSync(work, { recursive: true, force: true });
  });

  it('tcp: sourceLabels pick the route per client; a destinationSubnets match outside the VIP falls through', async () => {
    await eventually(async () => JSON.stringify(await tcp('client-b', 'db', 1)) === '{"db-v2":1}', 'first connection through the sidecar', 30_000);
    assert.deepEqual(await tcp('client-b', 'db', 20), { 'db-v2': 20 }, 'role b → v2');
    assert.deepEqual(await tcp('client-a', 'db', 20), { 'db-v1': 20 }, 'role a: the sourceLabels route does not apply, nor the 192.0.2.0/24 one');
  });

  it('tcp: a destinationSubnets match containing the VIP routes there', async () => {
    assert.deepEqual(await tcp('client-a', 'db2', 20), { 'db-v2': 20 }, 'db2 has only db-v1 as endpoint: v2 came from the route');
  });

  it('tls: routed by SNI (sniHosts, match.port, destinationSubnets) without terminating TLS; an SNI with no route is refused', async () => {
    assert.equal(await tlsTo('client-a', 'a.secure.example'), 'tls-a');
    assert.equal(await tlsTo('client-a', 'b.secure.example'), 'tls-b');
    assert.equal(await tlsTo('client-b', 'b.secure.example'), 'tls-b');
    assert.equal(await tlsTo('client-a', 's.secure.example'), '', 'sniHosts + destinationSubnets outside the VIP: no route');
    assert.equal(await tlsTo('client-a', 'c.secure.example'), '', 'its only route is for port 8443');
    assert.equal(await tlsTo('client-a', 'other.example'), '');
    assert.deepEqual(nacksIn(await mp.getJson<Syncz>('/debug/syncz')), [], 'no NACK');
  });
});
