/**
 * The Helm chart deploy/helm/meshpilot: it lints, renders what meshpilot needs (CRDs identical to
 * crds/, hardened pod, the flags `meshpilot serve` accepts), the real apiserver accepts the rendered
 * objects, and `helm install` / `upgrade` / `uninstall` work there (no kubelet runs, so the pods stay
 * Pending: only the API objects are checked).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ensureNamespace, startKubeCluster, withKubeLogs, type KubeCluster } from '../../helpers/kube-cluster.js';

const CHART = 'deploy/helm/meshpilot';
const NS = 'meshpilot-system';
const RELEASE = 'mp';
const FULLNAME = 'mp-meshpilot';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown };
type Container = { name: string; args?: string[]; ports?: Array<{ name: string; containerPort: number }>; securityContext?: Record<string, unknown>;
  livenessProbe?: { httpGet?: { path: string; port: string } }; readinessProbe?: { httpGet?: { path: string; port: string } } };
type PodTemplate = { spec: { securityContext?: Record<string, unknown>; containers: Container[]; serviceAccountName?: string } };

function parseYaml(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
}

function find(objs: Obj[], kind: string, name?: string): Obj {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  assert.ok(o, `${kind} ${name ?? ''} rendered`);
  return o;
}

/** Long option names `meshpilot serve --help` lists. */
function serveFlags(): Set<string> {
  const help = execFileSync(process.execPath, [resolve('dist/src/cli/main.js'), 'serve', '--help'], { encoding: 'utf8' });
  return new Set([...help.matchAll(/(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]));
}

describe('Helm chart deploy/helm/meshpilot', () => {
  let cluster: KubeCluster;
  const helm = (args: string[], input?: string) => cluster.helm(args, { input, timeoutMs: 120_000 });
  const template = async (...set: string[]) =>
    parseYaml((await helm(['template', RELEASE, CHART, '--namespace', NS, ...set.flatMap((s) => ['--set', s])])).stdout);

  before(async () => {
    cluster = await startKubeCluster();
    await ensureNamespace(cluster, NS);
  });
  after(async () => { await cluster?.stop(); });

  it('passes helm lint --strict with default and non-default values', () => withKubeLogs(cluster, async () => {
    await helm(['lint', '--strict', CHART]);
    await helm(['lint', '--strict', CHART, '--set', 'gateway.enabled=true', '--set', 'webhook.certificate.mode=secret',
      '--set', 'webhook.certificate.existingSecret=my-cert', '--set', 'crds.install=false', '--set', 'replicaCount=2']);
    const bad = await helm(['template', RELEASE, CHART, '--set', 'webhook.certificate.mode=secret'], undefined).catch((e: Error) => e);
    assert.ok(bad instanceof Error && /existingSecret is required/.test(bad.message), 'mode=secret without a Secret is refused');
  }));

  it('renders the CRDs from crds/ unchanged (one source), kept on uninstall', () => withKubeLogs(cluster, async () => {
    const rendered = (await template()).filter((o) => o.kind === 'CustomResourceDefinition');
    const files = readdirSync('crds').filter((f) => f.endsWith('.networking.istio.io.yaml')).sort();
    assert.equal(files.length, 5);
    assert.deepEqual(rendered.map((o) => `${o.metadata.name}.yaml`).sort(), files);
    for (const f of files) {
      const source = parseYaml(readFileSync(join('crds', f), 'utf8'))[0];
      const crd = find(rendered, 'CustomResourceDefinition', source.metadata.name);
      assert.deepEqual(crd.spec, source.spec, `spec of ${f} equals crds/${f}`);
      assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    }
    const without = await template('crds.install=false');
    assert.equal(without.filter((o) => o.kind === 'CustomResourceDefinition').length, 0);

    // `helm package` stores the files the symlink resolves to: the packaged chart stands alone.
    const out = mkdtempSync(join(tmpdir(), 'meshpilot-chart-'));
    try {
      await helm(['package', CHART, '--destination', out]);
      const tgz = readdirSync(out).find((f) => f.endsWith('.tgz'));
      assert.ok(tgz, 'helm package wrote a .tgz');
      const packaged = parseYaml((await helm(['template', RELEASE, join(out, tgz)])).stdout).filter((o) => o.kind === 'CustomResourceDefinition');
      assert.deepEqual(packaged.map((o) => o.spec), rendered.map((o) => o.spec));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }));

  it('renders a hardened Deployment whose arguments `meshpilot serve` accepts', () => withKubeLogs(cluster, async () => {
    const objs = await template('replicaCount=3');
    const dep = find(objs, 'Deployment', FULLNAME) as Obj & { spec: { replicas: number; template: PodTemplate } };
    assert.equal(dep.spec.replicas, 3);
    const pod = dep.spec.template.spec;
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.notEqual(pod.securityContext?.runAsUser, 0);
    assert.notEqual(pod.securityContext?.runAsUser, 1337);
    const c = pod.containers[0];
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'http-monitoring' });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/ready', port: 'http-monitoring' });
    assert.deepEqual(c.ports?.map((p) => [p.name, p.containerPort]), [['grpc-xds', 15010], ['http-monitoring', 15014], ['grpc-xds-tls', 15012], ['https-webhook', 15017]]);
    const args = c.args ?? [];
    assert.equal(args[0], 'serve');
    assert.ok(args.includes(`--leader-election-namespace=${NS}`), args.join(' '));
    const known = serveFlags();
    const unknown = args.slice(1).map((a) => a.split('=')[0]).filter((f) => f.startsWith('--') && !known.has(f));
    assert.deepEqual(unknown, [], 'every flag the chart passes is a `meshpilot serve` option');
    assert.ok(args.includes('--secure-xds-address=0.0.0.0:15012') && args.includes('--xds-tls-cert=/var/run/meshpilot/xds/tls.crt'), 'secure xDS is on by default');
    // The generated xDS serving certificate is signed by the CA published for proxies.
    const xdsTls = find(objs, 'Secret', `${FULLNAME}-xds-tls`) as Obj & { data: Record<string, string> };
    const caRoot = find(objs, 'ConfigMap', `${FULLNAME}-ca-root`) as Obj & { data: Record<string, string> };
    assert.equal(Buffer.from(xdsTls.data['ca.crt'], 'base64').toString('utf8').trim(), caRoot.data['root-cert.pem'].trim());
    const serving = new X509Certificate(Buffer.from(xdsTls.data['tls.crt'], 'base64'));
    assert.ok(serving.verify(new X509Certificate(caRoot.data['root-cert.pem']).publicKey), 'signed by the published CA');
    assert.ok(serving.checkHost(`${FULLNAME}.${NS}.svc`), serving.subjectAltName);

    const svc = find(objs, 'Service', FULLNAME) as Obj & { spec: { ports: Array<{ name: string; port: number; targetPort: string }> } };
    assert.deepEqual(svc.spec.ports.map((p) => [p.name, p.port, p.targetPort]),
      [['grpc-xds', 15010, 'grpc-xds'], ['grpc-xds-tls', 15012, 'grpc-xds-tls'], ['http-monitoring', 15014, 'http-monitoring'], ['https-webhook', 443, 'https-webhook']]);
  }));

  it('the apiserver accepts the rendered objects (kubectl apply --dry-run=server), gateway included', () => withKubeLogs(cluster, async () => {
    const out = await helm(['template', RELEASE, CHART, '--namespace', NS, '--set', 'gateway.enabled=true']);
    const r = await cluster.kubectl(['apply', '--dry-run=server', '-n', NS, '-f', '-'], { input: out.stdout });
    const applied = r.stdout.trim().split('\n');
    for (const want of [`deployment.apps/${FULLNAME} created (server dry run)`, `deployment.apps/${FULLNAME}-ingressgateway created (server dry run)`,
      `configmap/${FULLNAME}-ingressgateway-bootstrap created (server dry run)`, `validatingwebhookconfiguration.admissionregistration.k8s.io/${FULLNAME}-${NS} created (server dry run)`,
      'customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io created (server dry run)']) {
      assert.ok(applied.includes(want), `${want}\n in:\n${r.stdout}`);
    }
    // The gateway's bootstrap is YAML Envoy can read, pointing at meshpilot's Service.
    const cm = find(parseYaml(out.stdout), 'ConfigMap', `${FULLNAME}-ingressgateway-bootstrap`) as Obj & { data: Record<string, string> };
    const boot = parseYaml(cm.data['envoy.yaml'])[0] as unknown as { node: { metadata: { LABELS: Record<string, string> } }; static_resources: { clusters: Array<{ name: string; load_assignment: unknown }> } };
    assert.deepEqual(boot.node.metadata.LABELS, { istio: 'ingressgateway' });
    assert.match(JSON.stringify(boot.static_resources.clusters.find((x) => x.name === 'xds-grpc')), new RegExp(`"address":"${FULLNAME}\\.${NS}\\.svc","port_value":15010`));
  }));

  it('helm install succeeds; RBAC is least-privilege; upgrade keeps the webhook certificate; uninstall keeps the CRDs', () => withKubeLogs(cluster, async () => {
    await helm(['install', RELEASE, CHART, '--namespace', NS]);
    const status = JSON.parse((await helm(['status', RELEASE, '--namespace', NS, '-o', 'json'])).stdout) as { info: { status: string } };
    assert.equal(status.info.status, 'deployed');
    const dep = await cluster.request<{ spec: { replicas: number } }>('GET', `/apis/apps/v1/namespaces/${NS}/deployments/${FULLNAME}`);
    assert.equal(dep.status, 200);
    assert.equal(dep.body.spec.replicas, 1);
    await cluster.kubectl(['wait', '--for', 'condition=Established', '--timeout=60s', 'crd/virtualservices.networking.istio.io']);

    // The webhook's caBundle is the CA that signed the Secret's certificate for the Service's DNS name.
    const secret = async () => (await cluster.request<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${NS}/secrets/${FULLNAME}-webhook-tls`)).body.data;
    const webhook = async () => (await cluster.request<{ webhooks: Array<{ clientConfig: { caBundle: string; service: { name: string; port: number; path: string } } }> }>('GET',
      `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${FULLNAME}-${NS}`)).body.webhooks[0].clientConfig;
    const first = await secret();
    const cc = await webhook();
    assert.equal(cc.caBundle, first['ca.crt']);
    assert.deepEqual(cc.service, { name: FULLNAME, namespace: NS, port: 443, path: '/validate' });
    const ca = new X509Certificate(Buffer.from(first['ca.crt'], 'base64'));
    const leaf = new X509Certificate(Buffer.from(first['tls.crt'], 'base64'));
    assert.ok(leaf.verify(ca.publicKey), 'serving certificate signed by the caBundle CA');
    assert.equal(leaf.checkHost(`${FULLNAME}.${NS}.svc`), `${FULLNAME}.${NS}.svc`);

    const sa = `system:serviceaccount:${NS}:${FULLNAME}`;
    const can = async (...args: string[]) => (await cluster.kubectl(['auth', 'can-i', '--as', sa, ...args], { allowFail: true })).stdout.trim();
    const expectations: Array<[string[], string]> = [
      [['watch', 'virtualservices.networking.istio.io', '-A'], 'yes'],
      [['list', 'sidecars.networking.istio.io', '-A'], 'yes'],
      [['patch', 'virtualservices.networking.istio.io', '--subresource=status', '-n', 'default'], 'yes'],
      [['list', 'endpointslices.discovery.k8s.io', '-A'], 'yes'],
      [['watch', 'secrets', '-A'], 'yes'],
      [['create', 'tokenreviews.authentication.k8s.io'], 'yes'],
      [['update', 'leases.coordination.k8s.io', '-n', NS], 'yes'],
      [['update', 'leases.coordination.k8s.io', '-n', 'default'], 'no'],
      [['delete', 'leases.coordination.k8s.io', '-n', NS], 'yes'],
      [['update', 'virtualservices.networking.istio.io', '-n', 'default'], 'no'],
      [['delete', 'gateways.networking.istio.io', '-n', 'default'], 'no'],
      [['create', 'pods', '-n', NS], 'no'],
      [['list', 'configmaps', '-A'], 'no'],
    ];
    const got = await Promise.all(expectations.map(async ([args]) => [args.join(' '), await can(...args)]));
    assert.deepEqual(got, expectations.map(([args, want]) => [args.join(' '), want]));

    await helm(['upgrade', RELEASE, CHART, '--namespace', NS, '--set', 'replicaCount=2']);
    const upgraded = await cluster.request<{ spec: { replicas: number } }>('GET', `/apis/apps/v1/namespaces/${NS}/deployments/${FULLNAME}`);
    assert.equal(upgraded.body.spec.replicas, 2);
    assert.deepEqual(await secret(), first, 'upgrade reuses the webhook certificate');
    assert.equal((await webhook()).caBundle, first['ca.crt']);

    await helm(['uninstall', RELEASE, '--namespace', NS, '--wait', '--timeout', '60s']);
    assert.equal((await cluster.request('GET', `/apis/apps/v1/namespaces/${NS}/deployments/${FULLNAME}`)).status, 404);
    assert.equal((await cluster.request('GET', `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${FULLNAME}-${NS}`)).status, 404);
    assert.equal((await cluster.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualservices.networking.istio.io')).status, 200,
      'CRDs (and so users\' Istio objects) survive helm uninstall');
  }));
});
