/**
 * meshpilot against a real kube-apiserver (+ etcd + controller-manager): kubectl apply drives a real
 * Envoy gateway; status reports acceptance and rejection; the admission webhook refuses invalid
 * objects; an apiserver restart loses nothing; two replicas elect one status writer.
 * Backends are on loopback, reached through ServiceEntry STATIC endpoints (EndpointSlices may not
 * hold 127.0.0.0/8 addresses).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startKubeCluster, type KubeCluster } from '../../helpers/kube-cluster.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { openSecureStream, servingCertificate, statusWithin } from '../../helpers/secure-xds.js';
import { eventually, GATEWAY_LABELS, GATEWAY_NODE, get, who } from '../gateway/fixture.js';

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join('---\n');

describe('Kubernetes source on a real apiserver', () => {
  let cluster: KubeCluster;
  let mp: MeshpilotProcess;
  let mp2: MeshpilotProcess | undefined;
  let envoy: EnvoyProcess | undefined;
  const backends: EchoBackend[] = [];
  let gwPort: number;
  let webhookPort: number;
  const work = mkdtempSync(join(tmpdir(), 'meshpilot-kube-e2e-'));

  const apply = (text: string) => cluster.kubectl(['apply', '-f', '-'], { input: text });
  const gateway = () => ({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'public', namespace: 'default' },
    spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: gwPort, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com'] }] } });
  const serviceEntry = () => ({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'reviews', namespace: 'default' },
    spec: { hosts: ['reviews.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 9080, name: 'http', protocol: 'HTTP' }],
      endpoints: backends.map((b, i) => ({ address: b.host, ports: { http: b.port }, labels: { version: `v${i + 1}` } })) } });
  const rule = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'default' },
    spec: { host: 'reviews.internal', subsets: ['v1', 'v2'].map((v) => ({ name: v, labels: { version: v } })) } };
  const vs = (subset: string, extra: Record<string, unknown> = {}) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default' },
    spec: { hosts: ['reviews.example.com'], gateways: ['public'], http: [{ route: [{ destination: { host: 'reviews.internal', subset, port: { number: 9080 } }, ...extra }] }] } });

  async function condition(name: string): Promise<{ status?: string; message?: string } | undefined> {
    const r = await cluster.request<{ status?: { conditions?: Array<{ type: string; status: string; message: string }> } }>('GET', `/apis/networking.istio.io/v1/namespaces/default/virtualservices/${name}`);
    return r.body.status?.conditions?.find((c) => c.type === 'Accepted');
  }

  before(async () => {
    cluster = await startKubeCluster();
    await cluster.kubectl(['apply', '-f', 'crds/all.yaml']);
    await cluster.kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all']);
    for (const v of ['v1', 'v2']) backends.push(await startEchoBackend(`reviews-${v}`, '127.0.0.1', 0));
    gwPort = await freePort();
    webhookPort = await freePort();
    // A serving certificate for the webhook, signed by the cluster's CA-independent throwaway CA.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=meshpilot-webhook',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(work, 'wh.key'), '-out', join(work, 'wh.crt')], { stdio: 'ignore' });
    const kubeconfig = cluster.kubeconfigPath;
    mp = await startMeshpilot({ extraArgs: ['--kubeconfig', kubeconfig, '--leader-election-namespace', 'default', '--identity', 'replica-a', '--lease-duration', '4',
      '--webhook-address', `127.0.0.1:${webhookPort}`, '--webhook-cert', join(work, 'wh.crt'), '--webhook-key', join(work, 'wh.key')], debounceMs: 50, timeoutMs: 60_000 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
  });

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    await mp2?.stop();
    await Promise.all(backends.map((b) => b.close()));
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('kubectl apply makes traffic flow through Envoy; a change moves it; delete removes the route', async () => {
    await apply(yaml(gateway(), serviceEntry(), rule, vs('v1')));
    await eventually(async () => (await who(gwPort, 'reviews.example.com')) === 'reviews-v1', 'traffic to v1', 20_000);
    await apply(yaml(vs('v2')));
    await eventually(async () => (await who(gwPort, 'reviews.example.com')) === 'reviews-v2', 'traffic to v2');
    await cluster.kubectl(['delete', 'virtualservice', 'reviews']);
    await eventually(async () => (await get(gwPort, '/', { host: 'reviews.example.com' })).status === 404, 'route removed');
    const out = await cluster.kubectl(['get', 'gw']);
    assert.match(out.stdout, /public/);
  });

  it('status says Accepted for a valid object and why an invalid one was rejected (webhook off for it)', async () => {
    await apply(yaml(vs('v1')));
    await eventually(async () => (await condition('reviews'))?.status === 'True', 'Accepted=True');
    await eventually(async () => (await who(gwPort, 'reviews.example.com')) === 'reviews-v1', 'traffic back on v1');
    // Bypass the webhook (not registered yet): the store holds an invalid object; meshpilot keeps the last valid one.
    const bad = vs('v2', { weight: -5 });
    await apply(yaml(bad));
    await eventually(async () => (await condition('reviews'))?.status === 'False', 'Accepted=False');
    assert.match((await condition('reviews'))!.message!, /spec\.http\[0\]\.route\[0\]\.weight: weight must not be negative/);
    for (let i = 0; i < 10; i++) assert.equal(await who(gwPort, 'reviews.example.com'), 'reviews-v1');
    await apply(yaml(vs('v1')));
    await eventually(async () => (await condition('reviews'))?.status === 'True', 'Accepted=True again');
  });

  it('the validating webhook refuses an invalid VirtualService with its field path', async () => {
    const config = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'meshpilot' },
      webhooks: [{ name: 'validation.meshpilot.io', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail',
        clientConfig: { url: `https://127.0.0.1:${webhookPort}/validate`, caBundle: Buffer.from(readFileSync(join(work, 'wh.crt'))).toString('base64') },
        rules: [{ apiGroups: ['networking.istio.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['*'] }] }] };
    await apply(yaml(config));
    let refused = '';
    await eventually(async () => {
      // A semantic error the CRD schema cannot express (the schema already rejects unknown fields itself).
      const r = await cluster.kubectl(['apply', '-f', '-'], { input: yaml(vs('v2', { weight: -5 })), allowFail: true });
      refused = r.stderr;
      return r.code !== 0;
    }, 'webhook in force');
    assert.match(refused, /validation\.meshpilot\.io/);
    assert.match(refused, /VirtualService default\/reviews is invalid: spec\.http\[0\]\.route\[0\]\.weight: weight must not be negative/);
    // The schema in the CRD refuses unknown fields on its own, with the path.
    const typo = await cluster.kubectl(['apply', '-f', '-'], { input: yaml(vs('v2', { weigth: 10 })), allowFail: true });
    assert.notEqual(typo.code, 0);
    assert.match(typo.stderr, /unknown field "spec\.http\[0\]\.route\[0\]\.weigth"/);
    const ok = await cluster.kubectl(['apply', '-f', '-'], { input: yaml(vs('v1')), allowFail: true });
    assert.equal(ok.code, 0, ok.stderr);
    await cluster.kubectl(['delete', 'validatingwebhookconfiguration', 'meshpilot']);
  });

  it('keeps serving while the apiserver restarts (after an etcd compaction), then relists with no lost change', async () => {
    // Changes, then compaction: the resourceVersions meshpilot's watches hold are gone (410 Gone),
    // so after the restart it can only get back in sync by relisting.
    await apply(yaml({ ...serviceEntry(), metadata: { name: 'extra', namespace: 'default' }, spec: { ...serviceEntry().spec, hosts: ['extra.internal'] } }));
    await cluster.kubectl(['delete', 'serviceentry', 'extra']);
    await cluster.compactEtcd();
    await cluster.restartControlPlane({ downMs: 1500 });
    for (let i = 0; i < 10; i++) assert.equal(await who(gwPort, 'reviews.example.com'), 'reviews-v1');
    await eventually(async () => (await cluster.kubectl(['apply', '-f', '-'], { input: yaml(vs('v2')), allowFail: true })).code === 0, 'apiserver back', 60_000);
    await eventually(async () => (await who(gwPort, 'reviews.example.com')) === 'reviews-v2', 'change after restart applied', 40_000);
    const objs = await mp.getJson<Array<{ kind: string; metadata: { name: string } }>>('/debug/configz');
    assert.ok(!objs.some((o) => o.kind === 'ServiceEntry' && o.metadata.name === 'extra'), 'the deleted ServiceEntry is gone from the registry');
    assert.ok(objs.some((o) => o.kind === 'ServiceEntry' && o.metadata.name === 'reviews'));
    assert.ok(mp.events((e) => e.msg === 'watch re-established (relisted)' || e.msg === 'watch failed; serving the last known configuration and retrying').length > 0, 'watches were re-established');
  });

  it('secure xDS in Kubernetes mode: ServiceAccount tokens checked with TokenReview decide the namespace', async () => {
    await cluster.kubectl(['create', 'namespace', 'istio-system']).catch(() => undefined);
    await cluster.kubectl(['create', 'serviceaccount', 'ingressgateway', '-n', 'istio-system']);
    await cluster.kubectl(['create', 'serviceaccount', 'app', '-n', 'default']);
    const token = async (sa: string, ns: string) => (await cluster.kubectl(['create', 'token', sa, '-n', ns])).stdout.trim();
    const gwToken = await token('ingressgateway', 'istio-system');
    const appToken = await token('app', 'default');
    const certs = servingCertificate(work);
    const secure = await startMeshpilot({ extraArgs: ['--kubeconfig', cluster.kubeconfigPath, '--secure-xds-address', '127.0.0.1:0',
      '--xds-tls-cert', certs.certFile, '--xds-tls-key', certs.keyFile], timeoutMs: 60_000 });
    const creds = grpc.credentials.createSsl(Buffer.from(certs.caPem));
    const streams: Array<ReturnType<typeof openSecureStream>> = [];
    try {
      // The gateway's own ServiceAccount token: accepted, configuration flows.
      const ok = openSecureStream(secure.secureXdsAddress!, creds, gwToken);
      streams.push(ok);
      ok.send({ node: { id: GATEWAY_NODE }, typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' });
      await eventually(async () => ok.responses.length > 0, 'clusters sent to the authenticated gateway', 15_000);
      const connected = await secure.waitForLog((e) => e.msg === 'proxy connected' && e.proxy === GATEWAY_NODE);
      assert.deepEqual(connected.identity, { namespace: 'istio-system', serviceAccount: 'ingressgateway' });
      // A default-namespace workload's token cannot pose as the istio-system gateway.
      const posing = openSecureStream(secure.secureXdsAddress!, creds, appToken);
      streams.push(posing);
      posing.send({ node: { id: GATEWAY_NODE }, typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' });
      const st1 = await statusWithin(posing.status, 15_000);
      assert.notEqual(st1, 'open');
      assert.equal((st1 as grpc.StatusObject).code, grpc.status.PERMISSION_DENIED);
      assert.equal(posing.responses.length, 0);
      // A token the apiserver does not recognise.
      const forged = openSecureStream(secure.secureXdsAddress!, creds, `${gwToken.slice(0, -4)}AAAA`);
      streams.push(forged);
      forged.send({ node: { id: GATEWAY_NODE }, typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' });
      const st2 = await statusWithin(forged.status, 15_000);
      assert.notEqual(st2, 'open');
      assert.equal((st2 as grpc.StatusObject).code, grpc.status.UNAUTHENTICATED);
      assert.match((st2 as grpc.StatusObject).details, /token not authenticated/);
    } finally {
      for (const s of streams) s.close();
      await secure.stop();
    }
  });

  it('two replicas: exactly one leader writes status; when it stops, the other takes over', async () => {
    mp2 = await startMeshpilot({ extraArgs: ['--kubeconfig', cluster.kubeconfigPath, '--leader-election-namespace', 'default', '--identity', 'replica-b', '--lease-duration', '4'], timeoutMs: 60_000 });
    const leads = (p: MeshpilotProcess) => {
      const ev = p.events((e) => e.msg === 'became leader' || e.msg === 'lost leadership');
      return ev.length > 0 && ev[ev.length - 1].msg === 'became leader';
    };
    await eventually(async () => leads(mp), 'replica a leads');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(mp2.events((e) => e.msg === 'became leader').length, 0, 'replica b does not lead');
    const lease = await cluster.request<{ spec: { holderIdentity: string } }>('GET', '/apis/coordination.k8s.io/v1/namespaces/default/leases/meshpilot-leader');
    assert.equal(lease.body.spec.holderIdentity, 'replica-a');
    mp.proc.kill('SIGKILL'); // no clean step-down: b must wait out the lease
    await eventually(async () => leads(mp2!), 'replica b takes over', 20_000);
    // The new leader writes status.
    await apply(yaml(vs('v1', { weight: -1 })));
    await eventually(async () => (await condition('reviews'))?.status === 'False', 'status written by replica b');
  });
});
