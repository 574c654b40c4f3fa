/**
 * One pod network + one meshpilot (xDS on a unix socket, config from a folder) + the apps and
 * sidecars a test file starts, torn down together. Shared by the ServiceEntry and Sidecar-resource
 * end-to-end files; clients run inside pods (HTTP_LOOP / TCP_LOOP).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeshpilot, type MeshpilotProcess } from './meshpilot.js';
import { PodNetwork } from './pod-network.js';
import { HTTP_APP, HTTP_LOOP, TCP_LOOP, TCP_TAG, startSidecar, type Sidecar } from './sidecar.js';
import { ConfigDir, nacksIn } from '../e2e/gateway/fixture.js';

type Syncz = Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>;

export interface LoopResult { counts: Record<string, number>; failures: string[] }

export class MeshHarness {
  readonly net = new PodNetwork();
  readonly cfg = new ConfigDir();
  readonly work = mkdtempSync(join(tmpdir(), 'meshpilot-harness-'));
  readonly sidecars = new Map<string, Sidecar>();
  private readonly procs: ChildProcess[] = [];
  private mpProc?: MeshpilotProcess;

  constructor() {
    chmodSync(this.work, 0o755);
  }

  get mp(): MeshpilotProcess {
    if (!this.mpProc) throw new Error('meshpilot not started');
    return this.mpProc;
  }

  get xdsSocket(): string {
    return join(this.work, 'xds.sock');
  }

  async start(pods: string[]): Promise<void> {
    await this.net.setup();
    for (const p of pods) await this.net.addPod(p);
    this.mpProc = await startMeshpilot({ configDir: this.cfg.dir, xdsAddress: `unix://${this.xdsSocket}`, debounceMs: 50 });
  }

  /** HTTP_APP in a pod answering as `name` (args as HTTP_APP takes them). */
  httpApp(pod: string, name: string, port: number, address = '0.0.0.0', delayMs = 0): void {
    this.procs.push(this.net.spawn(pod, process.execPath, ['-e', HTTP_APP, name, String(port), address, String(delayMs)], { stdio: ['ignore', 'ignore', 'ignore'] }));
  }

  tcpApp(pod: string, tag: string, port: number): void {
    this.procs.push(this.net.spawn(pod, process.execPath, ['-e', TCP_TAG, tag, String(port)], { stdio: ['ignore', 'ignore', 'ignore'] }));
  }

  /** Any other long-running script in a pod. */
  spawnScript(pod: string, script: string, args: string[]): void {
    this.procs.push(this.net.spawn(pod, process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'ignore', 'ignore'] }));
  }

  async sidecar(pod: string, labels: Record<string, string>, namespace = 'default'): Promise<Sidecar> {
    const s = await startSidecar(this.net, { pod, namespace, labels, xdsSocket: this.xdsSocket, workDir: this.work });
    this.sidecars.set(pod, s);
    await s.waitFor((d) => d.includes('virtualOutbound') && d.includes('virtualInbound'), 'listeners');
    return s;
  }

  /** `count` sequential HTTP requests from inside `pod`; counts by answering app name. */
  async http(pod: string, url: string, headers: Record<string, string>, count: number): Promise<LoopResult> {
    const r = await this.net.exec(pod, process.execPath, ['-e', HTTP_LOOP, url, JSON.stringify(headers), String(count)], { timeoutMs: 90_000 });
    if (r.code !== 0) throw new Error(`http client in ${pod} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as LoopResult;
  }

  /** `count` sequential TCP connections from inside `pod`; counts by answering tag (or error code). */
  async tcp(pod: string, host: string, port: number, count: number): Promise<Record<string, number>> {
    const r = await this.net.exec(pod, process.execPath, ['-e', TCP_LOOP, host, String(port), String(count)], { timeoutMs: 90_000 });
    if (r.code !== 0) throw new Error(`tcp client in ${pod} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, number>;
  }

  /** What meshpilot would send a proxy now (the debug view). */
  async configOf(pod: string): Promise<{ listeners: Array<{ name: string; value: Record<string, unknown> }>; clusters: Array<{ name: string; value: Record<string, unknown> }>; endpoints: Array<{ name: string; value: Record<string, unknown> }> }> {
    const s = this.sidecars.get(pod);
    if (!s) throw new Error(`no sidecar in ${pod}`);
    return this.mp.getJson(`/debug/config_dump?proxyID=${encodeURIComponent(s.nodeId)}`);
  }

  async assertNoNack(): Promise<void> {
    assert.deepEqual(nacksIn(await this.mp.getJson<Syncz>('/debug/syncz')), []);
  }

  async stop(): Promise<void> {
    for (const p of [...this.procs, ...[...this.sidecars.values()].map((s) => s.proc)]) p.kill('SIGKILL');
    await this.mpProc?.stop();
    await this.net.teardown();
    this.cfg.remove();
    rmSync(this.work, { recursive: true, force: true });
  }
}
