/**
 * NACKs in the status of the Istio objects they came from, on a real kube-apiserver: one real
 * Envoy whose RE2 limit is lowered (runtime re2.max_program_size.error_level = 10) rejects the
 * routes made from a valid VirtualService's uri.regex; meshpilot writes `Reconciled: False`
 * naming that proxy on the VirtualService (and on nothing else), keeps the Accepted condition,
 * and sets it back to True when the VirtualService is fixed, or when the rejecting proxy leaves.
 * A second Envoy, with the RE2 limit meshpilot's bootstrap sets, accepts the same routes and is never named.
 * A Gateway whose listener cannot be opened (port taken) gets the condition too. With two replicas,
 * the leader writes what the proxies of the other one reject (its rejection report).
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startKubeCluster, type KubeCluster } from '../../helpers/kube-cluster.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { eventually, get, GATEWAY_LABELS, GATEWAY_NODE, nacksIn, who } from '../gateway/fixture.js';

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join('---\n');
const STRICT_NODE = 'router~127.0.0.1~strict-gw-0.istio-system~istio-system.svc.cluster.local';
const STRICT_LABELS = { istio: 'strict-gateway' };
/**
 * Valid for Istio; an RE2 program of about 770 instructions: over Envoy's default limit (100),
 * within the one meshpilot's bootstrap sets (32768, as Istio's), far over the strict proxy's 10.
 */
const REGEX = '/v1/items/[a-z0-9]{1,63}(\\.[a-z0-9]{1,63}){0,3}';
const PATH = '/v1/items/abc.def';

interface Cond { type: string; status: string; reason?: string; message?: string }

describe('Reconciled condition: NACKs written to the objects they came from', () => {
  let cluster: KubeCluster;
  let mp: MeshpilotProcess;
  let strict: EnvoyProcess | undefined;
  let normal: EnvoyProcess | undefined;
  let backend: EchoBackend;
  let strictPort: number;
  let normalPort: number;

  const apply = (text: string) => cluster.kubectl(['apply', '-f', '-'], { input: text });
  const gw = (name: string, labels: Record<string, string>, port: number) => ({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name, namespace: 'default' },
    spec: { selector: labels, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } });
  const serviceEntry = () => ({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'items', namespace: 'default' },
    spec: { hosts: ['items.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 9080, name: 'http', protocol: 'HTTP' }],
      endpoints: [{ address: backend.host, ports: { http: backend.port } }] } });
  const rule = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'items', namespace: 'default' }, spec: { host: 'items.internal' } };
  const vs = (name: string, match?: Record<string, unknown>) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' },
    spec: { hosts: [`${name}.example.com`], gateways: ['strict', 'normal'], http: [{ ...(match ? { match: [{ uri: match }] } : {}), route: [{ destination: { host: 'items.internal', port: { number: 9080 } } }] }] } });

  async function conditions(plural: string, name: string): Promise<Cond[]> {
    const r = await cluster.request<{ status?: { conditions?: Cond[] } }>('GET', `/apis/networking.istio.io/v1/namespaces/default/${plural}/${name}`);
    assert.equal(r.status, 200, `GET ${plural}/${name}`);
    return r.body.status?.conditions ?? [];
  }
  const reconciled = async (plural: string, name: string) => (await conditions(plural, name)).find((c) => c.type === 'Reconciled');

  before(async () => {
    cluster = await startKubeCluster();
    await cluster.kubectl(['apply', '-f', 'crds/all.yaml']);
    await cluster.kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    backend = await startEchoBackend('items', '127.0.0.1', 0);
    strictPort = await freePort();
    normalPort = await freePort();
    mp = await startMeshpilot({ extraArgs: ['--kubeconfig', cluster.kubeconfigPath], debounceMs: 50, timeoutMs: 60_000 });
    strict = await startEnvoy({ nodeId: STRICT_NODE, labels: STRICT_LABELS, xdsAddress: mp.xdsAddress, runtime: { 're2.max_program_size.error_level': 10 } });
    normal = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
  });

  after(async () => {
    await strict?.stop();
    await normal?.stop();
    await mp?.stop();
    await backend?.close();
    await cluster?.stop();
  });

  it('a proxy rejecting routes made from a VirtualService shows in its status; fixing it clears the condition', async () => {
    await apply(yaml(gw('strict', STRICT_LABELS, strictPort), gw('normal', GATEWAY_LABELS, normalPort), serviceEntry(), rule, vs('good')));
    for (const port of [strictPort, normalPort]) await eventually(async () => (await who(port, 'good.example.com')) === 'items', `traffic through port ${port}`, 30_000);

    await apply(yaml(vs('api', { regex: REGEX })));
    await eventually(async () => (await reconciled('virtualservices', 'api'))?.status === 'False', 'Reconciled=False on VirtualService api', 30_000);
    const cond = (await reconciled('virtualservices', 'api'))!;
    assert.equal(cond.reason, 'Rejected');
    assert.match(cond.message!, /^rejected by 1 proxy\(ies\): /);
    assert.ok(cond.message!.includes(`${STRICT_NODE} (RouteConfiguration http.${strictPort}.127.0.0.1: `), cond.message);
    assert.match(cond.message!, /program size/);
    assert.ok(!cond.message!.includes(GATEWAY_NODE), 'the proxy with default limits is not named');
    // The Accepted condition (validation) is still there.
    assert.equal((await conditions('virtualservices', 'api')).find((c) => c.type === 'Accepted')?.status, 'True');
    // Nothing else is blamed: the other VirtualService (in the same rejected route configuration), the rule, the Gateways.
    for (const [plural, name] of [['virtualservices', 'good'], ['destinationrules', 'items'], ['gateways', 'strict'], ['gateways', 'normal'], ['serviceentries', 'items']]) {
      assert.equal(await reconciled(plural, name), undefined, `${plural}/${name} has no Reconciled condition`);
    }
    // The strict proxy keeps its last accepted routes; the other one serves the new route.
    assert.equal(await who(strictPort, 'good.example.com'), 'items');
    assert.equal((await get(strictPort, PATH, { host: 'api.example.com' })).status, 404);
    assert.equal(await who(normalPort, 'api.example.com', {}, PATH), 'items');
    const syncz = await mp.getJson<Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>>('/debug/syncz');
    assert.deepEqual(nacksIn(syncz.filter((p) => p.id === GATEWAY_NODE)), [], 'the default-limit Envoy rejected nothing');

    // Fixed (a prefix): every proxy accepts it, the condition turns True; Accepted is kept.
    await apply(yaml(vs('api', { prefix: '/v1/items/' })));
    await eventually(async () => (await reconciled('virtualservices', 'api'))?.status === 'True', 'Reconciled=True after the fix', 30_000);
    const fixed = await conditions('virtualservices', 'api');
    assert.equal(fixed.find((c) => c.type === 'Reconciled')?.reason, 'NotRejected');
    assert.equal(fixed.find((c) => c.type === 'Accepted')?.status, 'True');
    await eventually(async () => (await who(strictPort, 'api.example.com', {}, PATH)) === 'items', 'the strict proxy serves the fixed route');
  });

  it('the condition clears when the rejecting proxy disconnects', async () => {
    await apply(yaml(vs('api', { regex: REGEX })));
    await eventually(async () => (await reconciled('virtualservices', 'api'))?.status === 'False', 'Reconciled=False again', 30_000);
    await strict!.stop();
    strict = undefined;
    await eventually(async () => (await reconciled('virtualservices', 'api'))?.status === 'True', 'Reconciled=True once the proxy left', 30_000);
    const syncz = await mp.getJson<Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>>('/debug/syncz');
    assert.deepEqual(nacksIn(syncz), [], 'the remaining Envoy rejected nothing');
  });

  it('a Gateway whose listener the proxy cannot open is named by its Reconciled condition', async () => {
    // Something else already listens on the port (without SO_REUSEPORT): Envoy rejects the listener.
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busyPort = (blocker.address() as AddressInfo).port;
    try {
      await apply(yaml(gw('busy', GATEWAY_LABELS, busyPort)));
      await eventually(async () => (await reconciled('gateways', 'busy'))?.status === 'False', 'Reconciled=False on Gateway busy', 30_000);
      const cond = (await reconciled('gateways', 'busy'))!;
      assert.ok(cond.message!.includes(`${GATEWAY_NODE} (Listener `), cond.message);
      assert.ok(cond.message!.includes(String(busyPort)), cond.message);
      // The Gateway on the other port made another listener, which the proxy took.
      assert.equal(await reconciled('gateways', 'normal'), undefined);
      assert.equal(await who(normalPort, 'good.example.com'), 'items');
      // Gone: the proxy is no longer sent the listener, and accepts the rest.
      await cluster.kubectl(['delete', 'gateway', 'busy']);
      await eventually(async () => {
        const syncz = await mp.getJson<Array<{ id: string; types: Record<string, { nackedResources?: unknown[] }> }>>('/debug/syncz');
        return syncz.every((p) => Object.values(p.types).every((t) => !t.nackedResources?.length));
      }, 'no proxy rejects anything once the Gateway is deleted', 30_000);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('two replicas: rejections seen by the one that does not lead reach the status through its report', async () => {
    // The single replica of the tests above leaves; two with leader election take over.
    await mp.stop();
    const replicas: MeshpilotProcess[] = [];
    let remoteStrict: EnvoyProcess | undefined;
    const leads = (p: MeshpilotProcess) => {
      const ev = p.events((e) => e.msg === 'became leader' || e.msg === 'lost leadership');
      return ev.length > 0 && ev[ev.length - 1].msg === 'became leader';
    };
    try {
      // The default 15 s lease: nothing here needs a quick takeover, and a 4 s lease could pass to
      // replica b when replica a is starved of CPU for a few seconds (a loaded test machine).
      const replica = (id: string) => startMeshpilot({ extraArgs: ['--kubeconfig', cluster.kubeconfigPath, '--leader-election-namespace', 'default', '--identity', id], debounceMs: 50, timeoutMs: 60_000 });
      replicas.push(await replica('replica-a'));
      await eventually(async () => leads(replicas[0]), 'replica a leads', 30_000);
      replicas.push(await replica('replica-b'));
      // The proxy that rejects the regex connects to replica b only.
      await apply(yaml(vs('api', { regex: REGEX })));
      remoteStrict = await startEnvoy({ nodeId: STRICT_NODE, labels: STRICT_LABELS, xdsAddress: replicas[1].xdsAddress, runtime: { 're2.max_program_size.error_level': 10 } });
      await eventually(async () => (await reconciled('virtualservices', 'api'))?.status === 'False', 'Reconciled=False from replica b\'s proxy', 40_000);
      assert.ok((await reconciled('virtualservices', 'api'))!.message!.includes(`${STRICT_NODE} (RouteConfiguration http.${strictPort}.127.0.0.1: `));
      assert.equal(replicas[1].events((e) => e.msg === 'became leader').length, 0, 'replica b never led');
      assert.ok(replicas[0].events((e) => e.msg === 'Reconciled status written').length > 0, 'the leader wrote it');
      // Fixed: replica b's report empties, the leader sets the condition back.
      await apply(yaml(vs('api', { prefix: '/v1/items/' })));
      await eventually(async () => (await reconciled('virtualservices', 'api'))?.status === 'True', 'Reconciled=True after the fix', 40_000);
    } finally {
      await remoteStrict?.stop();
      for (const r of replicas) await r.stop();
    }
  });
});
