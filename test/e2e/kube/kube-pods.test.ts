/**
 * Kubernetes Services and Pods for real: Pods (with IPs inside network namespaces this test made)
 * are created in a real apiserver, the controller-manager writes their EndpointSlices, meshpilot
 * (Kubernetes source, xDS on a unix socket) configures a gateway Envoy running in its own pod, and
 * a client pod's requests reach the backend pods. kubectl apply moves traffic; delete removes it.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { buildBootstrap } from '../../../src/proxy/bootstrap.js';
import { createNode, createReadyPod, startKubeCluster, type KubeCluster } from '../../helpers/kube-cluster.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { PodNetwork } from '../../helpers/pod-network.js';
import { envoyForProxyUser, HTTP_APP, HTTP_LOOP } from '../../helpers/sidecar.js';
import { eventually } from '../gateway/fixture.js';

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join('---\n');

describe('Kubernetes Services + Pods → EndpointSlices → gateway Envoy → backend pods', () => {
  let cluster: KubeCluster;
  let mp: MeshpilotProcess;
  const net = new PodNetwork();
  const work = mkdtempSync(join(tmpdir(), 'meshpilot-kpods-'));
  chmodSync(work, 0o755);
  const procs: ChildProcess[] = [];

  async function call(n: number): Promise<{ counts: Record<string, number>; failures: string[] }> {
    const url = `http://${net.pod('gateway').ip}:8080/`;
    const r = await net.exec('client', process.execPath, ['-e', HTTP_LOOP, url, JSON.stringify({ host: 'web.example.com' }), String(n)], { timeoutMs: 60_000 });
    return JSON.parse(r.stdout) as { counts: Record<string, number>; failures: string[] };
  }

  const vs = (subset: string) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' },
    spec: { hosts: ['web.example.com'], gateways: ['istio-system/public'], http: [{ route: [{ destination: { host: 'web', subset, port: { number: 80 } } }] }] } });

  before(async () => {
    cluster = await startKubeCluster();
    await cluster.kubectl(['apply', '-f', 'crds/all.yaml']);
    await cluster.kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    for (const p of ['gateway', 'client', 'web-v1', 'web-v2']) await net.addPod(p);
    await createNode(cluster);
    await cluster.kubectl(['create', 'namespace', 'istio-system']);
    for (const v of ['v1', 'v2']) {
      await createReadyPod(cluster, { name: `web-${v}`, labels: { app: 'web', version: v }, ip: net.pod(`web-${v}`).ip, ports: [{ name: 'http', containerPort: 8080 }] });
      procs.push(net.spawn(`web-${v}`, process.execPath, ['-e', HTTP_APP, `web-${v}`, '8080'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    }
    await createReadyPod(cluster, { namespace: 'istio-system', name: 'gateway', labels: { istio: 'ingressgateway' }, ip: net.pod('gateway').ip });
    await cluster.kubectl(['apply', '-f', '-'], { input: yaml(
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'public', namespace: 'istio-system' }, spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*/web.example.com'] }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'web', namespace: 'default' }, spec: { host: 'web', subsets: ['v1', 'v2'].map((v) => ({ name: v, labels: { version: v } })) } },
      vs('v1'),
    ) });
    const sock = join(work, 'xds.sock');
    mp = await startMeshpilot({ extraArgs: ['--kubeconfig', cluster.kubeconfigPath], xdsAddress: `unix://${sock}`, debounceMs: 50, timeoutMs: 60_000 });
    // The gateway pod's Envoy sends no labels: meshpilot finds them on its Pod in the registry.
    const gwDir = join(work, 'gateway');
    mkdirSync(gwDir, { mode: 0o777 });
    chmodSync(gwDir, 0o777); // Envoy runs as uid 1337 and creates its admin socket here
    const bootstrap = join(gwDir, 'envoy.json');
    writeFileSync(bootstrap, JSON.stringify(buildBootstrap({ nodeId: `router~${net.pod('gateway').ip}~gateway.istio-system~istio-system.svc.cluster.local`, xdsAddress: `unix://${sock}`, adminAddress: `unix://${join(gwDir, 'admin.sock')}` })));
    chmodSync(bootstrap, 0o644);
    procs.push(net.spawn('gateway', envoyForProxyUser(work), ['-c', bootstrap, '--disable-hot-restart', '-l', 'warning', '--concurrency', '1'], { user: 1337, stdio: ['ignore', 'ignore', 'pipe'] }));
  });

  after(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await mp?.stop();
    await net.teardown();
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('the controller-manager writes EndpointSlices for the Pods and traffic reaches them', async () => {
    const slices = await cluster.request<{ items: Array<{ endpoints?: Array<{ addresses: string[] }> }> }>('GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb');
    const addrs = slices.body.items.flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses)).sort();
    assert.deepEqual(addrs, [net.pod('web-v1').ip, net.pod('web-v2').ip].sort());
    try {
      await eventually(async () => ((await call(1)).counts['web-v1'] ?? 0) === 1, 'traffic through the gateway pod', 30_000);
    } catch (err) {
      const syncz = await mp.getJson('/debug/syncz');
      const last = await call(1);
      throw new Error(`${String(err)}\nlast: ${JSON.stringify(last)}\nsyncz: ${JSON.stringify(syncz)}\nlogs: ${mp.logs().slice(-15).join('\n')}`);
    }
    assert.deepEqual(await call(20), { counts: { 'web-v1': 20 }, failures: [] });
  });

  it('kubectl apply moves traffic to another subset; delete removes the route', async () => {
    await cluster.kubectl(['apply', '-f', '-'], { input: yaml(vs('v2')) });
    await eventually(async () => JSON.stringify((await call(5)).counts) === '{"web-v2":5}', 'traffic on v2');
    await cluster.kubectl(['delete', 'virtualservice', 'web']);
    await eventually(async () => JSON.stringify((await call(2)).counts) === '{"HTTP 404":2}', 'route removed');
  });

  it('a Pod that turns unready leaves the endpoints', async () => {
    await cluster.kubectl(['apply', '-f', '-'], { input: yaml({ ...vs('v1'), spec: { ...vs('v1').spec, http: [{ route: [{ destination: { host: 'web', port: { number: 80 } } }] }] } }) });
    await eventually(async () => Object.keys((await call(20)).counts).sort().join() === 'web-v1,web-v2', 'both versions serve');
    const { setPodStatus } = await import('../../helpers/kube-cluster.js');
    await setPodStatus(cluster, 'default', 'web-v2', { ip: net.pod('web-v2').ip, ready: false });
    await eventually(async () => JSON.stringify((await call(10)).counts) === '{"web-v1":10}', 'unready pod removed');
  });
});
