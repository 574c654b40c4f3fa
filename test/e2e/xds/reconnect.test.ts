/**
 * Failure test 3: a proxy that loses its xDS connection in the middle of a burst of pushes and
 * reconnects converges to the current configuration, over State of the World and over Delta. Two
 * real Envoy gateways reach meshpilot through TCP relays the test severs (both directions reset)
 * while a dozen changes (routes, endpoints, a listener coming and going) are applied; afterwards
 * traffic goes where the last configuration says, the versions in Envoy's config_dump are the ones
 * /debug/syncz says were sent, and nothing was rejected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildBootstrap } from '../../../src/proxy/bootstrap.js';
import { DigestMap } from '../../../src/xds/digest.js';
import { startBackends, stopBackends, type Backend } from '../../helpers/backends.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { startTcpRelay, type TcpRelay } from '../../helpers/tcp-proxy.js';
import { ConfigDir, eventually, nacksIn, who } from '../gateway/fixture.js';

interface TypeSync { lastNack?: unknown; versionSent?: string; versionAcked?: string }
interface Syncz { id: string; protocol?: string; types: Record<string, TypeSync> }
type Obj = Record<string, unknown>;

const node = (name: string) => `router~127.0.0.1~${name}-0.istio-system~istio-system.svc.cluster.local`;
const GATEWAYS = [
  { name: 'gw-sotw', delta: false },
  { name: 'gw-delta', delta: true },
] as const;
const CHANGES = 12;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const serviceEntry = (name: string, b: Backend) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'default' },
  spec: { hosts: [`${name}.test.internal`], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: b.host, ports: { http: b.port } }] },
});

/** The dynamic resources Envoy holds, as [name, version] per xDS type (Delta: per-resource versions). */
function heldVersions(dump: Obj): Record<'clusters' | 'listeners' | 'routes', Array<[string, string]>> {
  const configs = (dump.configs as Obj[]) ?? [];
  const of = (suffix: string) => configs.find((c) => String(c['@type']).endsWith(suffix)) ?? {};
  const clusters = ((of('.ClustersConfigDump').dynamic_active_clusters as Obj[] | undefined) ?? [])
    .map((c): [string, string] => [String((c.cluster as Obj).name), String(c.version_info)]);
  const listeners = ((of('.ListenersConfigDump').dynamic_listeners as Obj[] | undefined) ?? [])
    .filter((l) => l.active_state)
    .map((l): [string, string] => [String(l.name), String((l.active_state as Obj).version_info)]);
  const routes = ((of('.RoutesConfigDump').dynamic_route_configs as Obj[] | undefined) ?? [])
    .map((r): [string, string] => [String((r.route_config as Obj).name), String(r.version_info)]);
  return { clusters, listeners, routes };
}

describe('a proxy cut off in the middle of a burst of pushes reconnects and converges (SotW and Delta)', () => {
  const cfg = new ConfigDir();
  let backends: Backend[];
  let mp: MeshpilotProcess;
  const relays: TcpRelay[] = [];
  const envoys: EnvoyProcess[] = [];
  const ports: number[] = [];
  const extraPorts: number[] = [];
  const syncz = () => mp.getJson<Syncz[]>('/debug/syncz');

  /** Change i of the burst: the route's destination, service b's endpoint and an extra listener all move. */
  const configAt = (i: number): unknown[] => {
    const svc = ['a', 'b', 'c'][(i + 1) % 3];
    return [
      serviceEntry('a', backends[0]), serviceEntry('b', backends[i % 2 === 0 ? 3 : 1]), serviceEntry('c', backends[2]),
      ...GATEWAYS.map((g, n) => ({
        apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: g.name, namespace: 'default' },
        spec: {
          selector: { istio: g.name },
          servers: [
            { port: { number: ports[n], name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] },
            ...(i % 2 === 1 ? [{ port: { number: extraPorts[n], name: 'http-extra', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] : []),
          ],
        },
      })),
      {
        apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' },
        spec: { hosts: ['web.example.com'], gateways: GATEWAYS.map((g) => g.name), http: [{ route: [{ destination: { host: `${svc}.test.internal`, port: { number: 80 } } }] }] },
      },
    ];
  };

  before(async () => {
    backends = await startBackends(['a', 'b', 'c', 'd']);
    for (let n = 0; n < GATEWAYS.length; n++) { ports.push(await freePort()); extraPorts.push(await freePort()); }
    cfg.write('mesh.yaml', configAt(0));
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 20 });
    for (const g of GATEWAYS) {
      const relay = await startTcpRelay(mp.xdsAddress);
      relays.push(relay);
      const bootstrap = buildBootstrap({ nodeId: node(g.name), labels: { istio: g.name }, xdsAddress: relay.address, adminAddress: `127.0.0.1:${await freePort()}`, delta: g.delta });
      // A removed listener drains for 1 s (not 10 min): then its route configuration is dropped too.
      envoys.push(await startEnvoy({ bootstrap, name: g.name, extraArgs: ['--drain-time-s', '1'] }));
    }
  });

  after(async () => {
    try {
      assert.deepEqual(nacksIn(await syncz()), [], 'no NACK');
    } finally {
      for (const e of envoys) await e.stop();
      for (const r of relays) await r.close();
      await mp?.stop();
      await stopBackends(backends);
      cfg.remove();
    }
  });

  it('both gateways serve the first configuration (b → backend d)', async () => {
    for (const [n, e] of envoys.entries()) {
      await e.waitReady(30_000);
      await eventually(async () => (await who(ports[n], 'web.example.com')) === 'd', `${GATEWAYS[n].name} routes to b (backend d)`, 20_000);
    }
    const st = await syncz();
    assert.deepEqual(st.map((p) => [p.id, p.protocol]).sort(), [[node('gw-delta'), 'delta'], [node('gw-sotw'), 'sotw']]);
  });

  it('connections cut twice during a burst of 12 changes: both converge to the last configuration', async () => {
    for (let i = 1; i <= CHANGES; i++) {
      cfg.write('mesh.yaml', configAt(i));
      // Cut right after a change is written (its push finds the proxies gone or reconnecting) and
      // again a little later (while that push or the next is being written and acknowledged).
      if (i === 4) { await sleep(5); assert.ok(relays.every((r) => r.sever() > 0), 'a connection was open to cut'); }
      if (i === 8) { await sleep(120); for (const r of relays) r.sever(); }
      await sleep(60);
    }
    // The last change (12): route to b, whose endpoint is backend d again; no extra listener.
    for (const [n, g] of GATEWAYS.entries()) {
      await eventually(async () => {
        for (let k = 0; k < 8; k++) if ((await who(ports[n], 'web.example.com')) !== 'd') return false;
        return true;
      }, `${g.name}: every request goes to b's final endpoint (backend d)`, 30_000);
      assert.ok(relays[n].accepted() >= 2, `${g.name} reconnected (${relays[n].accepted()} connections)`);
    }
    await eventually(async () => {
      const st = await syncz();
      return st.length === 2 && st.every((p) => ['clusters', 'endpoints', 'listeners', 'routes'].every((k) => p.types[k]?.versionSent !== undefined && p.types[k].versionAcked === p.types[k].versionSent));
    }, 'meshpilot sees every type of both proxies acknowledged', 20_000);
  });

  it("Envoy's config_dump holds exactly the versions /debug/syncz says were sent; the extra listener is gone; nothing rejected", async () => {
    // Envoy ignores RDS removals: the removed listener's route configuration stays until that
    // listener has drained and Envoy unsubscribes from it.
    for (const [n, g] of GATEWAYS.entries()) {
      await eventually(async () => heldVersions(await envoys[n].configDump()).routes.length === 1, `${g.name}: the removed listener drained`, 20_000);
    }
    await eventually(async () => (await syncz()).every((p) => p.types.routes.versionAcked === p.types.routes.versionSent), 'routes acknowledged', 10_000);
    const st = await syncz();
    for (const [n, g] of GATEWAYS.entries()) {
      const sent = st.find((p) => p.id === node(g.name))!;
      const held = heldVersions(await envoys[n].configDump());
      assert.ok(!held.listeners.some(([name]) => name.includes(String(extraPorts[n]))), `${g.name}: the extra listener was removed`);
      if (g.delta) {
        // Delta: meshpilot's version of a type is the digest of the [name, version] pairs it sent.
        // (Envoy's EDS dump carries no versions: endpoints are shown by the traffic above.)
        for (const kind of ['clusters', 'listeners', 'routes'] as const) {
          assert.equal(new DigestMap(held[kind]).version(), sent.types[kind].versionSent, `${g.name} ${kind}: Envoy holds what was sent (${JSON.stringify(held[kind])})`);
        }
      } else {
        // SotW: the type-level versions are those of the last responses; the route configuration
        // changed in the last change, so it carries the last RDS version.
        const dump = await envoys[n].configDump();
        const configs = dump.configs as Obj[];
        const version = (suffix: string) => configs.find((c) => String(c['@type']).endsWith(suffix))?.version_info;
        assert.equal(version('.ClustersConfigDump'), sent.types.clusters.versionSent, `${g.name}: CDS version`);
        assert.equal(version('.ListenersConfigDump'), sent.types.listeners.versionSent, `${g.name}: LDS version`);
        assert.equal(held.routes.length, 1, `${g.name}: the gateway's route configuration ${JSON.stringify(held.routes)}`);
        assert.ok(held.routes[0][0].includes(`.${ports[n]}.`), `${g.name}: the gateway's route configuration ${JSON.stringify(held.routes)}`);
        assert.equal(held.routes[0][1], sent.types.routes.versionSent, `${g.name}: the route configuration is at the last RDS version`);
      }
      const rejected = await envoys[n].stats('update_rejected');
      assert.deepEqual(Object.entries(rejected).filter(([, v]) => v > 0), [], `${g.name}: Envoy rejected no update`);
    }
    assert.deepEqual(nacksIn(st), []);
  });
});
