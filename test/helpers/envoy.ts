/**
 * Starts real Envoy processes from a bootstrap written by meshpilot's own bootstrap builder,
 * waits for them to be ready, and always stops them. The log is printed when a test fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBootstrap } from '../../src/proxy/bootstrap.js';
import { httpGet } from './meshpilot.js';
import { freePort } from './ports.js';

let envoyPath: string | undefined;

export function envoyBinary(): string {
  if (envoyPath) return envoyPath;
  if (process.env.MESHPILOT_ENVOY) return (envoyPath = process.env.MESHPILOT_ENVOY);
  const r = spawnSync(process.execPath, ['scripts/install-envoy.mjs'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('installing Envoy failed');
  envoyPath = r.stdout.trim().split('\n').pop()!;
  return envoyPath;
}

export interface EnvoyProcess {
  adminUrl: string;
  proc: ChildProcess;
  logs(): string;
  configDump(): Promise<Record<string, unknown>>;
  stats(filter?: string): Promise<Record<string, number>>;
  /** Polls until predicate(config_dump) holds (bounded). */
  waitFor(pred: (dump: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Waits until Envoy has a listener on the given port. */
  waitForListener(port: number, timeoutMs?: number): Promise<void>;
  stop(opts?: { showLogs?: boolean }): Promise<void>;
}

export async function startEnvoy(opts: { nodeId: string; labels?: Record<string, string>; xdsAddress: string; adminPort?: number }): Promise<EnvoyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-envoy-'));
  const adminPort = opts.adminPort ?? (await freePort());
  const bootstrap = buildBootstrap({ nodeId: opts.nodeId, labels: opts.labels, xdsAddress: opts.xdsAddress, adminAddress: `127.0.0.1:${adminPort}` });
  const bootstrapPath = join(dir, 'envoy.json');
  writeFileSync(bootstrapPath, JSON.stringify(bootstrap));
  const logPath = join(dir, 'envoy.log');
  const proc = spawn(envoyBinary(), ['-c', bootstrapPath, '--disable-hot-restart', '--base-id', String(adminPort), '-l', 'info', '--log-path', logPath, '--concurrency', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  let exited = false;
  const exitP = new Promise<void>((r) => proc.once('exit', () => { exited = true; r(); }));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const logs = () => { let l = ''; try { l = readFileSync(logPath, 'utf8'); } catch { /* not yet */ } return l + stderr; };
  const configDump = async () => JSON.parse((await httpGet(`${adminUrl}/config_dump?include_eds`)).body) as Record<string, unknown>;
  const env: EnvoyProcess = {
    adminUrl,
    proc,
    logs,
    configDump,
    async stats(filter) {
      const r = await httpGet(`${adminUrl}/stats?format=json${filter ? `&filter=${encodeURIComponent(filter)}` : ''}`);
      const out: Record<string, number> = {};
      for (const s of (JSON.parse(r.body) as { stats: Array<{ name: string; value?: number }> }).stats) if (typeof s.value === 'number') out[s.name] = s.value;
      return out;
    },
    async waitFor(pred, what, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < until) {
        if (exited) throw new Error(`envoy exited while waiting for ${what}:\n${logs().slice(-4000)}`);
        try { if (pred(await configDump())) return; } catch (err) { last = err; }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what} (${String(last ?? '')}); envoy log:\n${logs().slice(-4000)}`);
    },
    async waitForListener(port, timeoutMs = 15_000) {
      await env.waitFor((d) => JSON.stringify(d).includes(`"port_value":${port}`), `listener on port ${port}`, timeoutMs);
    },
    async stop(o) {
      if (o?.showLogs) process.stderr.write(`---- envoy log (${opts.nodeId}) ----\n${logs().slice(-8000)}\n`);
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exitP;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Ready = admin answers (Envoy may still be waiting for its first xDS config).
  const until = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`envoy exited at start:\n${logs()}`);
    try { if ((await httpGet(`${adminUrl}/server_info`)).status === 200) break; } catch { /* not up yet */ }
    if (Date.now() > until) { await env.stop({ showLogs: true }); throw new Error('envoy admin did not come up'); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return env;
}
