/**
 * The test Kubernetes control plane itself (etcd + kube-apiserver + kube-controller-manager): it
 * starts, the controller-manager turns Services + Pods into EndpointSlices, the generated CRDs and
 * every example apply with kubectl. One cluster for the whole file.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseDocuments } from '../../../src/sources/documents.js';
import {
  createNode, createReadyPod, endpointSlicesOf, ensureNamespace, KUBE_VERSION, pollUntil, setPodStatus, startKubeCluster, withKubeLogs, type KubeCluster,
} from '../../helpers/kube-cluster.js';

const CRDS = 'crds/all.yaml';
const EXAMPLES = 'examples';

function exampleFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (p !== join(EXAMPLES, 'demo')) out.push(...exampleFiles(p)); } else if (/\.(ya?ml|json)$/.test(name)) out.push(p);
  }
  return out;
}

interface ObjectRef { kind: string; group: string; name: string; namespace?: string }

function objectsIn(files: string[]): ObjectRef[] {
  const refs: ObjectRef[] = [];
  for (const file of files) {
    const { documents, errors } = parseDocuments(readFileSync(file, 'utf8'), file);
    assert.deepEqual(errors, [], `${file} parses`);
    for (const d of documents) {
      const o = d.object as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
      const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
      refs.push({ kind: o.kind, group, name: o.metadata.name, namespace: o.metadata.namespace });
    }
  }
  return refs;
}

describe(`test Kubernetes control plane (${KUBE_VERSION})`, () => {
  let cluster: KubeCluster;
  const started = Date.now();

  before(async () => {
    cluster = await startKubeCluster();
    process.stderr.write(`kube cluster ready in ${Date.now() - started} ms at ${cluster.server}\n`);
  });
  after(async () => { await cluster?.stop(); });

  it('answers kubectl with the generated kubeconfig and token, and denies an unknown token', () => withKubeLogs(cluster, async () => {
    assert.match(cluster.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    const version = JSON.parse((await cluster.kubectl(['version', '-o', 'json'])).stdout) as { serverVersion: { gitVersion: string } };
    assert.equal(version.serverVersion.gitVersion, KUBE_VERSION);
    const who = await cluster.kubectl(['auth', 'can-i', 'create', 'customresourcedefinitions']);
    assert.equal(who.stdout.trim(), 'yes');
    const denied = await cluster.kubectl(['--token', 'not-a-token', 'get', 'namespaces'], { allowFail: true });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Unauthorized|must be logged in/);
  }));

  it('the controller-manager writes an EndpointSlice from a Service and a Pod made Ready through status', () => withKubeLogs(cluster, async () => {
    await ensureNamespace(cluster, 'shop');
    await createNode(cluster, 'node-1');
    await cluster.kubectl(['apply', '-f', '-'], {
      input: stringify({
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'cart', namespace: 'shop' },
        spec: { selector: { app: 'cart' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      }),
    });
    await createReadyPod(cluster, { namespace: 'shop', name: 'cart-1', labels: { app: 'cart' }, ip: '10.244.1.10', ports: [{ name: 'http', containerPort: 8080 }] });
    await createReadyPod(cluster, { namespace: 'shop', name: 'cart-2', labels: { app: 'cart' }, ip: '10.244.1.11', ready: false });
    const slices = await pollUntil('EndpointSlice of shop/cart with both pods', async () => {
      const s = await endpointSlicesOf(cluster, 'shop', 'cart');
      return s.flatMap((x) => x.endpoints).length === 2 ? s : undefined;
    }, 30_000);
    assert.equal(slices.length, 1);
    assert.deepEqual(slices[0].endpoints, [{ address: '10.244.1.10', ready: true }, { address: '10.244.1.11', ready: false }]);
    assert.deepEqual(slices[0].ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);

    // Readiness follows the status subresource; a deleted Pod leaves the slice.
    await setPodStatus(cluster, 'shop', 'cart-2', { ip: '10.244.1.11', ready: true });
    await pollUntil('cart-2 ready in the EndpointSlice', async () => {
      const eps = (await endpointSlicesOf(cluster, 'shop', 'cart')).flatMap((x) => x.endpoints);
      return eps.find((e) => e.address === '10.244.1.11')?.ready === true ? true : undefined;
    });
    await cluster.kubectl(['delete', 'pod', '-n', 'shop', 'cart-1', '--grace-period=0', '--force']);
    await pollUntil('cart-1 gone from the EndpointSlice', async () => {
      const eps = (await endpointSlicesOf(cluster, 'shop', 'cart')).flatMap((x) => x.endpoints);
      return eps.length === 1 && eps[0].address === '10.244.1.11' ? true : undefined;
    });
  }));

  it('refuses a loopback address in an EndpointSlice (why pod IPs come from a private range)', () => withKubeLogs(cluster, async () => {
    const r = await cluster.request('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'loopback' }, addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.2'] }], ports: [{ name: 'http', port: 80 }],
    });
    assert.equal(r.status, 422, JSON.stringify(r.body));
  }));

  it('applies the generated CRDs; kubectl get vs shows their printer columns', () => withKubeLogs(cluster, async () => {
    // crds/ is generated by `npm run gen:crds`; wait (bounded) in case a parallel build writes it.
    await pollUntil(`${CRDS} to exist`, async () => (existsSync(CRDS) ? true : undefined), 60_000, 500);
    await cluster.kubectl(['apply', '-f', CRDS]);
    const names = (await cluster.kubectl(['get', 'crd', '-o', 'name'])).stdout.trim().split('\n').sort();
    assert.deepEqual(names, ['destinationrules', 'gateways', 'serviceentries', 'sidecars', 'virtualservices']
      .map((p) => `customresourcedefinition.apiextensions.k8s.io/${p}.networking.istio.io`));
    await cluster.kubectl(['wait', '--for', 'condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=meshpilot']);
    await cluster.kubectl(['apply', '-f', '-'], {
      input: stringify({
        apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'printer-columns', namespace: 'default' },
        spec: { hosts: ['columns.example.com'], gateways: ['public'], http: [{ route: [{ destination: { host: 'columns' } }] }] },
      }),
    });
    const table = (await cluster.kubectl(['get', 'vs', 'printer-columns'])).stdout.trim().split('\n');
    assert.match(table[0], /^NAME\s+GATEWAYS\s+HOSTS\s+AGE$/);
    assert.match(table[1], /^printer-columns\s+\["public"\]\s+\["columns\.example\.com"\]\s+\S+$/);
  }));

  it('applies every file under examples/ (except examples/demo) with kubectl apply', () => withKubeLogs(cluster, async () => {
    await pollUntil('the networking.istio.io CRDs to be established', async () => {
      const r = await cluster.kubectl(['get', 'crd', 'virtualservices.networking.istio.io'], { allowFail: true });
      return r.code === 0 ? true : undefined;
    });
    const files = exampleFiles(EXAMPLES);
    assert.ok(files.length > 0, 'examples/ holds files');
    const objects = objectsIn(files);
    for (const ns of [...new Set(objects.map((o) => o.namespace).filter((n): n is string => !!n && n !== 'default'))].sort()) await ensureNamespace(cluster, ns);
    const applied = await cluster.kubectl(['apply', '-o', 'name', ...files.flatMap((f) => ['-f', f])]);
    const expected = [...new Set(objects.map((o) => `${o.kind.toLowerCase()}${o.group ? `.${o.group}` : ''}/${o.name}`))].sort();
    assert.deepEqual([...new Set(applied.stdout.trim().split('\n'))].sort(), expected);
    // Everything is stored: one read per object.
    for (const o of objects) {
      const kind = `${o.kind.toLowerCase()}${o.group ? `.${o.group}` : ''}`;
      await cluster.kubectl(['get', kind, o.name, '-n', o.namespace ?? 'default', '-o', 'name']);
    }
  }));
});
