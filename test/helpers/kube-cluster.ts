/**
 * A real Kubernetes control plane for end-to-end tests: etcd, kube-apiserver and
 * kube-controller-manager (v1.34.2, built once by scripts/kube/build.sh into a cache outside the
 * clone) on free loopback ports, with certificates and a service-account key generated at start.
 *
 * No kubelet and no scheduler run: tests create a Node object, create Pods with spec.nodeName set and
 * report their IP and readiness through the status subresource (see createNode / createReadyPod); the
 * controller-manager then writes EndpointSlices. Kubernetes rejects EndpointSlice addresses in
 * 127.0.0.0/8, so pod IPs come from a private range (API data only; nothing connects to them here).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './ports.js';

export const KUBE_VERSION = 'v1.34.2';
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl', 'helm'] as const;
const BUILD_SCRIPT = resolve('scripts/kube/build.sh');

/** The cache folder holding the built binaries; builds them first when one is missing. */
export function kubeBinDir(): string {
  if (process.env.MESHPILOT_KUBE_BIN) return process.env.MESHPILOT_KUBE_BIN;
  const root = process.env.MESHPILOT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'meshpilot');
  const dir = join(root, `kube-${KUBE_VERSION}`, 'bin');
  if (BINARIES.every((b) => existsSync(join(dir, b)))) return dir;
  const r = spawnSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`building the test Kubernetes control plane failed (${BUILD_SCRIPT}, exit ${String(r.status)})`);
  return r.stdout.trim().split('\n').pop()!;
}

export function helmBinary(): string {
  return join(kubeBinDir(), 'helm');
}

/** kubectl v1.34.2 built with the control plane (MESHPILOT_KUBECTL overrides). */
export function kubectlBinary(): string {
  return process.env.MESHPILOT_KUBECTL ?? join(kubeBinDir(), 'kubectl');
}

export interface CommandResult { code: number; stdout: string; stderr: string }
export interface RunOptions { input?: string; timeoutMs?: number; /** resolve instead of throwing on a non-zero exit */ allowFail?: boolean }
export interface ApiResponse<T = Record<string, unknown>> { status: number; body: T }

export interface KubeCluster {
  /** https://127.0.0.1:PORT */
  server: string;
  /** Bearer token of a system:masters user. */
  token: string;
  kubeconfigPath: string;
  /** PEM of the CA that signed the apiserver's serving certificate. */
  caPem: string;
  caPath: string;
  /** etcd client URL (http://127.0.0.1:PORT), e.g. for compaction. */
  etcdUrl: string;
  /** Runs kubectl against the cluster; throws with stderr on a non-zero exit unless allowFail. */
  kubectl(args: string[], opts?: RunOptions): Promise<CommandResult>;
  /** Runs helm against the cluster with its own config/cache folders. */
  helm(args: string[], opts?: RunOptions): Promise<CommandResult>;
  /** A raw REST call as the admin user; JSON body in and out (non-JSON answers come back as { text }). */
  request<T = Record<string, unknown>>(method: string, path: string, body?: unknown, contentType?: string): Promise<ApiResponse<T>>;
  /** Stops apiserver and etcd, then starts them again on the same ports and data (controller-manager keeps running). */
  restartControlPlane(opts?: { downMs?: number }): Promise<void>;
  /** Compacts etcd at its current revision (old resourceVersions then answer 410 Gone once the watch cache is past them). */
  compactEtcd(): Promise<number>;
  /** Last lines of each component's log. */
  logs(maxCharsPerComponent?: number): string;
  stop(opts?: { showLogs?: boolean }): Promise<void>;
}

export interface KubeClusterOptions {
  serviceClusterIpRange?: string;
  extraApiserverArgs?: string[];
  extraControllerManagerArgs?: string[];
  extraEtcdArgs?: string[];
  /** Bound on each wait (apiserver /readyz, first ServiceAccount). Default 90 s. */
  timeoutMs?: number;
}

interface Component { name: string; proc: ChildProcess; exited: Promise<void>; hasExited(): boolean }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** A throwaway CA, an apiserver serving certificate for 127.0.0.1/localhost/kubernetes.default.svc, and an EC service-account key pair. */
function writeCertificates(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=meshpilot-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=kube-apiserver', '-keyout', 'apiserver.key', '-out', 'apiserver.csr'], dir);
  writeFileSync(join(dir, 'apiserver.ext'), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
    '',
  ].join('\n'));
  openssl(['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'apiserver.ext', '-out', 'apiserver.crt'], dir);
  const sa = generateKeyPairSync('ec', { namedCurve: 'prime256v1', privateKeyEncoding: { type: 'sec1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  writeFileSync(join(dir, 'sa.key'), sa.privateKey, { mode: 0o600 });
  writeFileSync(join(dir, 'sa.pub'), sa.publicKey);
}

function startComponent(name: string, binary: string, args: string[], logPath: string): Component {
  const fd = openSync(logPath, 'a');
  const proc = spawn(binary, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  const exitedP = new Promise<void>((r) => proc.once('exit', () => { exited = true; r(); }));
  proc.once('error', () => { exited = true; });
  return { name, proc, exited: exitedP, hasExited: () => exited };
}

async function stopComponent(c: Component | undefined): Promise<void> {
  if (!c || c.hasExited()) return;
  c.proc.kill('SIGTERM');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), 5000);
  await c.exited;
  clearTimeout(t);
}

function run(binary: string, args: string[], opts: RunOptions, env?: NodeJS.ProcessEnv): Promise<CommandResult> {
  return new Promise((res, rej) => {
    const proc = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    proc.once('error', (err) => { clearTimeout(timer); rej(err); });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, stdout, stderr };
      if (result.code !== 0 && !opts.allowFail) {
        rej(new Error(`${binary} ${args.join(' ')} exited ${signal ?? String(code)}:\n${stderr.slice(-4000)}${stdout ? `\nstdout:\n${stdout.slice(-2000)}` : ''}`));
      } else res(result);
    });
    proc.stdin.end(opts.input ?? '');
  });
}

/** Starts etcd + kube-apiserver + kube-controller-manager and waits until the apiserver is ready and the controllers work. */
export async function startKubeCluster(opts: KubeClusterOptions = {}): Promise<KubeCluster> {
  const bin = kubeBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-kube-'));
  const timeoutMs = opts.timeoutMs ?? 90_000;
  writeCertificates(dir);
  const caPath = join(dir, 'ca.crt');
  const caPem = readFileSync(caPath, 'utf8');
  const token = `admin-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  writeFileSync(join(dir, 'tokens.csv'), `${token},meshpilot-admin,uid-admin,"system:masters"\n`, { mode: 0o600 });

  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigPath = join(dir, 'kubeconfig.yaml');
  writeFileSync(kubeconfigPath, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'meshpilot-test', preferences: {},
    clusters: [{ name: 'meshpilot-test', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'meshpilot-test', context: { cluster: 'meshpilot-test', user: 'admin', namespace: 'default' } }],
  }), { mode: 0o600 });

  const etcdArgs = ['--name', 'default', '--data-dir', join(dir, 'etcd'),
    '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `default=http://127.0.0.1:${peerPort}`, '--log-level', 'warn', '--unsafe-no-fsync',
    ...(opts.extraEtcdArgs ?? [])];
  const apiserverArgs = ['--etcd-servers', etcdUrl, '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--secure-port', String(apiPort),
    '--tls-cert-file', join(dir, 'apiserver.crt'), '--tls-private-key-file', join(dir, 'apiserver.key'), '--client-ca-file', caPath,
    '--token-auth-file', join(dir, 'tokens.csv'), '--authorization-mode', 'Node,RBAC',
    '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local', '--api-audiences', 'https://kubernetes.default.svc.cluster.local',
    '--service-account-key-file', join(dir, 'sa.pub'), '--service-account-signing-key-file', join(dir, 'sa.key'),
    '--service-cluster-ip-range', opts.serviceClusterIpRange ?? '10.96.0.0/16', '--allow-privileged', '--profiling=false',
    '--cert-dir', join(dir, 'apiserver-certs'),
    // The "kubernetes" Service cannot get Endpoints at 127.0.0.1 (loopback is invalid there).
    '--endpoint-reconciler-type', 'none',
    ...(opts.extraApiserverArgs ?? [])];
  // No kubelet runs, so the node lifecycle controllers would mark our Nodes unreachable and their Pods
  // not ready after the grace period; they stay off.
  const controllerArgs = ['--kubeconfig', kubeconfigPath, '--secure-port', '0', '--leader-elect=false',
    '--controllers', '*,-node-lifecycle-controller,-taint-eviction-controller',
    '--service-account-private-key-file', join(dir, 'sa.key'), '--root-ca-file', caPath,
    '--service-cluster-ip-range', opts.serviceClusterIpRange ?? '10.96.0.0/16', '--profiling=false',
    ...(opts.extraControllerManagerArgs ?? [])];

  const logPath = (name: string) => join(dir, `${name}.log`);
  let etcd: Component | undefined;
  let apiserver: Component | undefined;
  let controllers: Component | undefined;
  const components = () => [controllers, apiserver, etcd].filter((c): c is Component => c !== undefined);
  const killAll = () => { for (const c of components()) if (!c.hasExited()) c.proc.kill('SIGKILL'); };
  process.once('exit', killAll);

  const logs = (max = 6000) => ['etcd', 'kube-apiserver', 'kube-controller-manager'].map((n) => {
    let text = '';
    try { text = readFileSync(logPath(n), 'utf8'); } catch { /* not started */ }
    return `---- ${n} (${logPath(n)}) ----\n${text.slice(-max)}`;
  }).join('\n');

  const request = <T = Record<string, unknown>>(method: string, path: string, body?: unknown, contentType = 'application/json') =>
    new Promise<ApiResponse<T>>((res, rej) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = httpsRequest(`${server}${path}`, {
        method, ca: caPem, timeout: 15_000,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(payload === undefined ? {} : { 'content-type': contentType }) },
      }, (r) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (text += c));
        r.on('end', () => {
          let parsed: unknown;
          try { parsed = JSON.parse(text); } catch { parsed = { text }; }
          res({ status: r.statusCode ?? 0, body: parsed as T });
        });
      });
      req.on('error', rej);
      req.on('timeout', () => req.destroy(new Error(`timeout ${method} ${path}`)));
      req.end(payload);
    });

  const waitReady = async (what: string) => {
    const until = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      for (const c of components()) if (c.hasExited()) throw new Error(`${c.name} exited while waiting for ${what}`);
      try {
        const r = await request('GET', '/readyz');
        if (r.status === 200) return;
        last = `${r.status} ${JSON.stringify(r.body).slice(0, 500)}`;
      } catch (err) { last = String(err); }
      if (Date.now() > until) throw new Error(`kube-apiserver not ready within ${timeoutMs} ms (${what}): ${last}`);
      await sleep(250);
    }
  };

  const waitEtcd = async () => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (etcd?.hasExited()) throw new Error('etcd exited at start');
      const healthy = await new Promise<boolean>((res) => {
        const req = httpRequest(`${etcdUrl}/health`, { timeout: 2000 }, (r) => { r.resume(); res(r.statusCode === 200); });
        req.on('error', () => res(false));
        req.on('timeout', () => req.destroy());
        req.end();
      });
      if (healthy) return;
      if (Date.now() > until) throw new Error(`etcd not healthy within ${timeoutMs} ms`);
      await sleep(100);
    }
  };

  const startControlPlane = async () => {
    etcd = startComponent('etcd', join(bin, 'etcd'), etcdArgs, logPath('etcd'));
    await waitEtcd();
    apiserver = startComponent('kube-apiserver', join(bin, 'kube-apiserver'), apiserverArgs, logPath('kube-apiserver'));
    await waitReady('start');
  };

  const cluster: KubeCluster = {
    server, token, kubeconfigPath, caPem, caPath, etcdUrl,
    kubectl: (args, o = {}) => run(kubectlBinary(), ['--kubeconfig', kubeconfigPath, '--cache-dir', join(dir, 'kubectl-cache'), ...args], o),
    helm: (args, o = {}) => run(join(bin, 'helm'), ['--kubeconfig', kubeconfigPath, ...args], o, {
      ...process.env, HELM_CACHE_HOME: join(dir, 'helm', 'cache'), HELM_CONFIG_HOME: join(dir, 'helm', 'config'), HELM_DATA_HOME: join(dir, 'helm', 'data'),
    }),
    request,
    async restartControlPlane(o = {}) {
      await stopComponent(apiserver);
      await stopComponent(etcd);
      if (o.downMs) await sleep(o.downMs);
      await startControlPlane();
    },
    async compactEtcd() {
      const post = (path: string, body: unknown) => new Promise<Record<string, unknown>>((res, rej) => {
        const req = httpRequest(`${etcdUrl}${path}`, { method: 'POST', timeout: 10_000, headers: { 'content-type': 'application/json' } }, (r) => {
          let text = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => (text += c));
          r.on('end', () => (r.statusCode === 200 ? res(JSON.parse(text) as Record<string, unknown>) : rej(new Error(`etcd ${path}: ${r.statusCode} ${text}`))));
        });
        req.on('error', rej);
        req.end(JSON.stringify(body));
      });
      const range = await post('/v3/kv/range', { key: Buffer.from('/').toString('base64'), limit: 1 });
      const revision = Number((range.header as { revision?: string } | undefined)?.revision ?? 0);
      await post('/v3/kv/compaction', { revision: String(revision), physical: true });
      return revision;
    },
    logs,
    async stop(o = {}) {
      if (o.showLogs) process.stderr.write(`${logs()}\n`);
      await stopComponent(controllers);
      await stopComponent(apiserver);
      await stopComponent(etcd);
      process.removeListener('exit', killAll);
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await startControlPlane();
    controllers = startComponent('kube-controller-manager', join(bin, 'kube-controller-manager'), controllerArgs, logPath('kube-controller-manager'));
    // The service-account controller creating default/default shows the controller-manager works
    // (and Pods can be created: their admission needs the namespace's default ServiceAccount).
    await waitForServiceAccount(cluster, 'default', 'default', timeoutMs);
    return cluster;
  } catch (err) {
    const message = `${err instanceof Error ? err.message : String(err)}\n${logs()}`;
    await cluster.stop();
    throw new Error(message);
  }
}

/** Runs fn; when it throws, the error carries the cluster's component logs. */
export async function withKubeLogs<T>(cluster: KubeCluster | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (cluster && err instanceof Error) err.message += `\n${cluster.logs(3000)}`;
    throw err;
  }
}

/** Polls fn until it returns a value other than undefined (bounded in time); throws naming what was awaited. */
export async function pollUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) { last = err; }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}

function expectStatus(r: ApiResponse<unknown>, ok: number[], what: string): void {
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 1000)}`);
}

export async function waitForServiceAccount(cluster: KubeCluster, namespace: string, name = 'default', timeoutMs = 30_000): Promise<void> {
  await pollUntil(`ServiceAccount ${namespace}/${name}`, async () => {
    const r = await cluster.request('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}`);
    return r.status === 200 ? true : undefined;
  }, timeoutMs);
}

/** Creates the namespace (if missing) and waits for its default ServiceAccount. */
export async function ensureNamespace(cluster: KubeCluster, name: string): Promise<void> {
  const r = await cluster.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  expectStatus(r, [201, 409], `create Namespace ${name}`);
  await waitForServiceAccount(cluster, name);
}

/** Creates a Node object (idempotent) and marks it Ready through the status subresource. */
export async function createNode(cluster: KubeCluster, name = 'node-1', labels: Record<string, string> = {}): Promise<void> {
  const r = await cluster.request('POST', '/api/v1/nodes', {
    apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
  });
  expectStatus(r, [201, 409], `create Node ${name}`);
  const now = new Date().toISOString();
  const s = await cluster.request('PATCH', `/api/v1/nodes/${name}/status`, {
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'test node (no kubelet runs)', lastHeartbeatTime: now, lastTransitionTime: now }] },
  }, 'application/strategic-merge-patch+json');
  expectStatus(s, [200], `set status of Node ${name}`);
}

export interface TestPod {
  namespace?: string;
  name: string;
  labels?: Record<string, string>;
  /** Pod IP from a private range (not 127.0.0.0/8: EndpointSlices reject loopback). */
  ip: string;
  nodeName?: string;
  ports?: Array<{ name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' }>;
  /** Ready condition (default true). */
  ready?: boolean;
  image?: string;
}

/** Sets a Pod's phase, IP and Ready/ContainersReady conditions as a kubelet would. */
export async function setPodStatus(cluster: KubeCluster, namespace: string, name: string, status: { ip: string; ready: boolean }): Promise<void> {
  const now = new Date().toISOString();
  const flag = status.ready ? 'True' : 'False';
  const r = await cluster.request('PATCH', `/api/v1/namespaces/${namespace}/pods/${name}/status`, {
    status: {
      phase: 'Running', podIP: status.ip, podIPs: [{ ip: status.ip }], startTime: now,
      conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
        type, status: type === 'PodScheduled' || type === 'Initialized' ? 'True' : flag, lastTransitionTime: now,
      })),
    },
  }, 'application/strategic-merge-patch+json');
  expectStatus(r, [200], `set status of Pod ${namespace}/${name}`);
}

/** Creates a Pod bound to a node (no scheduler runs) and reports it running with the given IP. */
export async function createReadyPod(cluster: KubeCluster, pod: TestPod): Promise<Record<string, unknown>> {
  const namespace = pod.namespace ?? 'default';
  const body = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: pod.name, namespace, labels: pod.labels ?? {} },
    spec: {
      nodeName: pod.nodeName ?? 'node-1',
      containers: [{ name: 'app', image: pod.image ?? 'registry.invalid/meshpilot-test-app:1', ports: pod.ports ?? [] }],
    },
  };
  const r = await cluster.request('POST', `/api/v1/namespaces/${namespace}/pods`, body);
  expectStatus(r, [201], `create Pod ${namespace}/${pod.name}`);
  await setPodStatus(cluster, namespace, pod.name, { ip: pod.ip, ready: pod.ready ?? true });
  return r.body;
}

export interface EndpointSliceView { name: string; endpoints: Array<{ address: string; ready: boolean }>; ports: Array<{ name?: string; port?: number }> }

/** EndpointSlices of a Service (label kubernetes.io/service-name), reduced to what tests compare. */
export async function endpointSlicesOf(cluster: KubeCluster, namespace: string, service: string): Promise<EndpointSliceView[]> {
  type Slice = { metadata: { name: string }; endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }>; ports?: Array<{ name?: string; port?: number }> };
  const r = await cluster.request<{ items?: Slice[] }>('GET',
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${service}`)}`);
  expectStatus(r, [200], `list EndpointSlices of Service ${namespace}/${service}`);
  return (r.body.items ?? []).map((s) => ({
    name: s.metadata.name,
    endpoints: (s.endpoints ?? []).flatMap((e) => e.addresses.map((address) => ({ address, ready: e.conditions?.ready === true })))
      .sort((a, b) => a.address.localeCompare(b.address)),
    ports: s.ports ?? [],
  })).sort((a, b) => a.name.localeCompare(b.name));
}
