/**
 * A small Kubernetes-like "node" built from network namespaces, for end-to-end tests that need
 * pods with their own network stack (transparent capture, sidecars). Requires root, iproute2 and
 * (for capture) iptables: Debian packages `iproute2 iptables`.
 *
 *   mp-<run>-node   namespace holding bridge `br0` with <podCidr>.1 (the pods' default gateway);
 *                   no uplink, so uncaptured traffic to a VIP or elsewhere gets EHOSTUNREACH/ENETUNREACH
 *   mp-<run>-<pod>  one namespace per pod: `lo` up, `eth0` (veth peer of `v<i>` on br0) with
 *                   <podCidr>.<10+i>/24, default route via the bridge, so Service VIPs
 *                   (serviceCidr, never assigned to anything) are routable and can be captured.
 *
 * Everything is created inside namespaces this helper makes: the veth pairs are created in the
 * node namespace and their peers moved straight into the pod namespace, so the host's own network
 * namespace is never touched. Hostnames resolve through /etc/netns/<ns>/hosts, which
 * `ip netns exec` bind-mounts over /etc/hosts. teardown() kills the processes started through
 * this helper, deletes the namespaces (and with them the bridge and veths) and the /etc/netns
 * folders; it also runs on process exit, SIGINT and SIGTERM.
 */
import { spawn as spawnChild, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Debian packages the pod network needs; .ci/run installs them. */
export const POD_NETWORK_PACKAGES = ['iproute2', 'iptables'] as const;

const NETNS_ETC = '/etc/netns';
const COMMAND_TIMEOUT_MS = 15_000;

export interface Pod {
  name: string;
  /** Network namespace name, `mp-<run>-<pod>`. */
  netns: string;
  ip: string;
  /** Name of the pod's veth end on the bridge (inside the node namespace). */
  bridgePort: string;
}

export interface ExecOptions {
  /** Kill the command after this long (default 15 s). */
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this uid (and gid, default the same) via `setpriv --clear-groups`. */
  user?: number;
  group?: number;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface PodNetworkOptions {
  /** Distinguishes this network's names; default 6 random hex chars. [a-z0-9], at most 8 chars. */
  runId?: string;
  /** Pods to create right away. */
  pods?: string[];
}

function runSync(cmd: string, args: string[], input?: string): ExecResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: COMMAND_TIMEOUT_MS });
  if (r.error) return { code: null, signal: null, stdout: '', stderr: r.error.message };
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function mustRun(cmd: string, args: string[]): string {
  const r = runSync(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Names of all network namespaces (`ip netns list`). */
export function listNetns(): string[] {
  return mustRun('ip', ['netns', 'list']).split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n !== '');
}

/**
 * Why this machine cannot build a pod network, or undefined when it can: root, `ip`, `iptables`,
 * `setpriv` present and a namespace can be created.
 */
export function podNetworkUnsupportedReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'pod network tests need root';
  for (const [tool, args] of [['ip', ['-V']], ['iptables', ['-V']], ['iptables-restore', ['--version']], ['setpriv', ['--version']]] as const) {
    const r = runSync(tool, [...args]);
    if (r.code !== 0) return `${tool} is not usable (${r.stderr.trim() || 'not found'}); install Debian packages: ${POD_NETWORK_PACKAGES.join(' ')}`;
  }
  const probe = `mp-probe-${process.pid}`;
  const add = runSync('ip', ['netns', 'add', probe]);
  runSync('ip', ['netns', 'del', probe]);
  if (add.code !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  return undefined;
}

export class PodNetwork {
  readonly runId: string;
  /** Namespace holding the bridge. */
  readonly nodeNetns: string;
  /** Pod subnet, 10.244.X.0/24. */
  readonly podCidr: string;
  /** Address of the bridge: the pods' default gateway. */
  readonly gatewayIp: string;
  /** Service VIP subnet, 10.96.X.0/24: routed (default route) but assigned to nothing. */
  readonly serviceCidr: string;

  private readonly octet: number;
  private readonly pods = new Map<string, Pod>();
  private readonly hosts = new Map<string, string>();
  private readonly children = new Set<ChildProcess>();
  private nodeReady = false;
  private tornDown = false;
  private readonly onExit = () => this.teardownSync();
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.teardownSync();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };

  constructor(opts: { runId?: string } = {}) {
    const runId = opts.runId ?? randomBytes(3).toString('hex');
    if (!/^[a-z0-9]{1,8}$/.test(runId)) throw new Error(`PodNetwork runId "${runId}": expected 1-8 chars [a-z0-9]`);
    this.runId = runId;
    this.nodeNetns = `mp-${runId}-node`;
    // Namespaces are isolated, so overlapping ranges between runs are harmless; the octet only
    // makes addresses differ between runs to ease reading logs.
    let h = 0;
    for (const c of runId) h = (h * 31 + c.charCodeAt(0)) % 250;
    this.octet = h + 1;
    this.podCidr = `10.244.${this.octet}.0/24`;
    this.gatewayIp = `10.244.${this.octet}.1`;
    this.serviceCidr = `10.96.${this.octet}.0/24`;
  }

  /** Builds the node and the given pods. Fails with the reason when the machine cannot. */
  static async create(opts: PodNetworkOptions = {}): Promise<PodNetwork> {
    const reason = podNetworkUnsupportedReason();
    if (reason) throw new Error(reason);
    const net = new PodNetwork(opts);
    try {
      await net.setup();
      for (const p of opts.pods ?? []) await net.addPod(p);
    } catch (err) {
      net.teardownSync();
      throw err;
    }
    return net;
  }

  /** Prefix of every namespace name of this network. */
  get prefix(): string {
    return `mp-${this.runId}-`;
  }

  /** Namespaces of this network that exist now. */
  existingNetns(): string[] {
    return listNetns().filter((n) => n.startsWith(this.prefix)).sort();
  }

  /**
   * Creates the node namespace and bridge. Idempotent: leftovers of an earlier network with the
   * same run id are removed first; calling it again on a live network does nothing.
   */
  async setup(): Promise<void> {
    if (this.nodeReady) return;
    if (this.tornDown) throw new Error(`PodNetwork ${this.runId} was torn down`);
    this.removeNamespaces();
    process.on('exit', this.onExit);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    const n = this.nodeNetns;
    mustRun('ip', ['netns', 'add', n]);
    mustRun('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
    mustRun('ip', ['-n', n, 'link', 'add', 'br0', 'type', 'bridge']);
    mustRun('ip', ['-n', n, 'addr', 'add', `${this.gatewayIp}/24`, 'dev', 'br0']);
    mustRun('ip', ['-n', n, 'link', 'set', 'br0', 'up']);
    // Uncaptured traffic to a VIP or any other off-bridge address fails fast with an ICMP error
    // from the node (which has no uplink) instead of vanishing: forwarding on (in the node
    // namespace only) makes the kernel answer, the unreachable route names the VIP range.
    mustRun('ip', ['netns', 'exec', n, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    mustRun('ip', ['-n', n, 'route', 'add', 'unreachable', this.serviceCidr]);
    this.nodeReady = true;
  }

  /** Adds a pod (idempotent by name): its namespace, veth to the bridge, address, routes, hosts file. */
  async addPod(name: string): Promise<Pod> {
    const existing = this.pods.get(name);
    if (existing) return existing;
    if (!/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/.test(name)) throw new Error(`pod name "${name}": expected a DNS label of at most 32 chars`);
    await this.setup();
    const index = this.pods.size;
    if (index >= 200) throw new Error(`PodNetwork ${this.runId}: at most 200 pods`);
    const pod: Pod = { name, netns: `${this.prefix}${name}`, ip: `10.244.${this.octet}.${10 + index}`, bridgePort: `v${index}` };
    const ns = pod.netns;
    mustRun('ip', ['netns', 'add', ns]);
    this.pods.set(name, pod);
    mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    mustRun('ip', ['-n', this.nodeNetns, 'link', 'add', pod.bridgePort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    mustRun('ip', ['-n', this.nodeNetns, 'link', 'set', pod.bridgePort, 'master', 'br0']);
    mustRun('ip', ['-n', this.nodeNetns, 'link', 'set', pod.bridgePort, 'up']);
    mustRun('ip', ['-n', ns, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0']);
    mustRun('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    mustRun('ip', ['-n', ns, 'route', 'add', 'default', 'via', this.gatewayIp]);
    this.writeHostsFile(pod);
    return pod;
  }

  pod(name: string): Pod {
    const p = this.pods.get(name);
    if (!p) throw new Error(`PodNetwork ${this.runId}: no pod "${name}" (have ${[...this.pods.keys()].join(', ') || 'none'})`);
    return p;
  }

  allPods(): Pod[] {
    return [...this.pods.values()];
  }

  /** The n-th address of the Service VIP range (1-254). */
  serviceIp(n: number): string {
    if (!Number.isInteger(n) || n < 1 || n > 254) throw new Error(`serviceIp(${n}): expected 1-254`);
    return `10.96.${this.octet}.${n}`;
  }

  /**
   * Makes `hostname` resolve to `ip` in every pod (present and future). Files are rewritten in
   * place, so processes already running see the change.
   */
  addHost(hostname: string, ip: string): void {
    if (!/^[A-Za-z0-9.-]+$/.test(hostname)) throw new Error(`addHost: bad hostname "${hostname}"`);
    this.hosts.set(hostname, ip);
    for (const p of this.pods.values()) this.writeHostsFile(p);
  }

  private writeHostsFile(pod: Pod): void {
    const dir = join(NETNS_ETC, pod.netns);
    mkdirSync(dir, { recursive: true });
    const lines = ['127.0.0.1 localhost', `${pod.ip} ${pod.name}`];
    for (const [h, ip] of [...this.hosts].sort(([a], [b]) => a.localeCompare(b))) lines.push(`${ip} ${h}`);
    writeFileSync(join(dir, 'hosts'), lines.join('\n') + '\n');
  }

  private argv(pod: string, cmd: string, args: readonly string[], opts: ExecOptions): string[] {
    const ns = this.pod(pod).netns;
    const user = opts.user === undefined ? [] : ['setpriv', '--reuid', String(opts.user), '--regid', String(opts.group ?? opts.user), '--clear-groups'];
    return ['netns', 'exec', ns, ...user, cmd, ...args];
  }

  /**
   * Starts `cmd args` inside the pod's namespace (`ip netns exec`, which execs, so the child's pid
   * is the command's). The process is killed at teardown if still running.
   */
  spawn(pod: string, cmd: string, args: readonly string[] = [], opts: ExecOptions & { stdio?: SpawnOptions['stdio'] } = {}): ChildProcess {
    if (this.tornDown) throw new Error(`PodNetwork ${this.runId} was torn down`);
    const child = spawnChild('ip', this.argv(pod, cmd, args, opts), {
      env: opts.env ?? process.env, cwd: opts.cwd, stdio: opts.stdio ?? ['pipe', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs `cmd args` in the pod's namespace to completion (bounded by timeoutMs, default 15 s). */
  exec(pod: string, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? COMMAND_TIMEOUT_MS;
    const child = this.spawn(pod, cmd, args, opts);
    return new Promise((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${cmd} ${args.join(' ')} in pod ${pod} timed out after ${timeoutMs} ms; stderr: ${stderr.trim()}`));
      }, timeoutMs);
      child.once('error', (err) => { clearTimeout(timer); reject(err); });
      child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
      // A command that exits without reading its input closes the pipe: that is not an error.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input ?? '');
    });
  }

  /** Kills every process started here and every process left inside this network's namespaces. */
  private killProcesses(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    this.children.clear();
    for (const ns of this.existingNetns()) {
      const pids = runSync('ip', ['netns', 'pids', ns]).stdout.split('\n').map((s) => Number(s.trim())).filter((p) => p > 1);
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
    }
  }

  private removeNamespaces(): void {
    for (const ns of this.existingNetns()) runSync('ip', ['netns', 'del', ns]);
    if (existsSync(NETNS_ETC)) {
      for (const ns of readdirSync(NETNS_ETC)) {
        if (ns.startsWith(this.prefix)) rmSync(join(NETNS_ETC, ns), { recursive: true, force: true });
      }
    }
  }

  private teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    this.killProcesses();
    this.removeNamespaces();
  }

  /** Removes everything this network made. Idempotent; safe after a failed setup. */
  async teardown(): Promise<void> {
    this.teardownSync();
  }
}
