/**
 * ServiceEntry behind a gateway Envoy on loopback (no pod network needed): DNS resolution done by
 * Envoy itself on the name "localhost" (STRICT_DNS with several weighted endpoints, LOGICAL_DNS
 * for DNS_ROUND_ROBIN), as an egress gateway forwards to external hosts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackends, stopBackends, type Backend } from '../../helpers/backends.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, nacksIn, who } from '../gateway/fixture.js';

describe('ServiceEntry through a gateway Envoy', () => {
  const cfg = new ConfigDir();
  let backends: Backend[] = [];
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port = 0;

  before(async () => {
    backends = await startBackends(['dns-a', 'dns-b', 'rr']);
    const [a, b, rr] = backends;
    port = await freePort();
    const route = (host: string) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: host.split('.')[0], namespace: 'default' },
      spec: { hosts: [host], gateways: ['egress'], http: [{ route: [{ destination: { host, port: { number: 80 } } }] }] } });
    cfg.write('config.yaml', [
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'egress', namespace: 'default' }, spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.ext.test'] }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'dns', namespace: 'default' }, spec: {
        hosts: ['dns.ext.test'], location: 'MESH_EXTERNAL', resolution: 'DNS', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
        endpoints: [{ address: 'localhost', ports: { http: a.port }, weight: 1 }, { address: 'localhost', ports: { http: b.port }, weight: 3 }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'rr', namespace: 'default' }, spec: {
        hosts: ['rr.ext.test'], location: 'MESH_EXTERNAL', resolution: 'DNS_ROUND_ROBIN', ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: rr.port }],
        endpoints: [{ address: 'localhost' }] } },
      route('dns.ext.test'), route('rr.ext.test'),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await envoy.waitForListener(port);
  });

  /** The type of an active cluster in Envoy's own config dump. */
  async function clusterType(name: string): Promise<string | undefined> {
    const configs = (await envoy.configDump()).configs as Array<{ dynamic_active_clusters?: Array<{ cluster: { name: string; type?: string } }> }>;
    return configs.flatMap((c) => c.dynamic_active_clusters ?? []).find((c) => c.cluster.name === name)?.cluster.type;
  }

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    await stopBackends(backends);
    cfg.remove();
  });

  it('DNS: Envoy resolves each endpoint name and splits 1:3 by endpoint weight over 400 requests', async () => {
    await eventually(async () => ['dns-a', 'dns-b'].includes(await who(port, 'dns.ext.test')), 'dns.ext.test served', 20_000);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 400; i++) {
      const w = await who(port, 'dns.ext.test');
      counts[w] = (counts[w] ?? 0) + 1;
    }
    process.stderr.write(`gateway DNS ServiceEntry weights 1:3 over 400 requests: ${JSON.stringify(counts)}\n`);
    assert.equal((counts['dns-a'] ?? 0) + (counts['dns-b'] ?? 0), 400, JSON.stringify(counts));
    // Expected 100 for dns-a; binomial sd ≈ 8.7, ±4.6 sd.
    assert.ok(counts['dns-a'] >= 60 && counts['dns-a'] <= 140, JSON.stringify(counts));
    assert.equal(await clusterType('outbound|80||dns.ext.test'), 'STRICT_DNS');
  });

  it('DNS_ROUND_ROBIN: one name, LOGICAL_DNS, reached on targetPort', async () => {
    await eventually(async () => (await who(port, 'rr.ext.test')) === 'rr', 'rr.ext.test served', 20_000);
    for (let i = 0; i < 20; i++) assert.equal(await who(port, 'rr.ext.test'), 'rr');
    assert.equal(backends[2].hits() >= 21, true);
    assert.equal(await clusterType('outbound|80||rr.ext.test'), 'LOGICAL_DNS');
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
  });
});
