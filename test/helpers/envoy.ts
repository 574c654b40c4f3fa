/**
 * Starts real Envoy processes from a bootstrap written by meshpilot's own bootstrap builder (or a
 * given bootstrap object), waits for them to come up, and always stops them. The log is attached
 * to every wait that fails, and printed by stop({showLogs: true}) or when MESHPILOT_ENVOY_LOGS=1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBootstrap } from '../../src/proxy/bootstrap.js';
import { httpGet } from './meshpilot.js';
import { freePort } from './ports.js';

let envoyPath: string | undefined;

/** The Envoy binary: MESHPILOT_ENVOY, else installed (once per process) by scripts/install-envoy.mjs. */
export function envoyBinary(): string {
  if (envoyPath) return envoyPath;
  if (process.env.MESHPILOT_ENVOY) return (envoyPath = process.env.MESHPILOT_ENVOY);
  const r = spawnSync(process.execPath, ['scripts/install-envoy.mjs'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  if (r.status !== 0) throw new Error('installing Envoy failed (node scripts/install-envoy.mjs)');
  envoyPath = r.stdout.trim().split('\n').pop()!;
  return envoyPath;
}

export interface EnvoyProcess {
  adminUrl: string;
  proc: ChildProcess;
  logs(): string;
  configDump(): Promise<Record<string, unknown>>;
  stats(filter?: string): Promise<Record<string, number>>;
  /** Polls until admin /ready answers LIVE (Envoy finished its initial xDS fetch). */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Polls until predicate(config_dump) holds (bounded). */
  waitFor(pred: (dump: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Waits until Envoy has a listener on the given port. */
  waitForListener(port: number, timeoutMs?: number): Promise<void>;
  stop(opts?: { showLogs?: boolean }): Promise<void>;
}

export type StartEnvoyOptions =
  /** runtime: a static runtime layer of overrides (e.g. { 're2.max_program_size.error_level': 10 }). */
  | { nodeId: string; labels?: Record<string, string>; namespace?: string; xdsAddress: string; adminPort?: number; extraArgs?: string[]; runtime?: Record<string, unknown> }
  /** A complete bootstrap; its admin address must be a loopback socket address (one is added when missing). */
  | { bootstrap: Record<string, unknown>; name?: string; extraArgs?: string[] };

let started = 0;

function adminPortOf(bootstrap: Record<string, unknown>): number | undefined {
  const admin = bootstrap.admin as { address?: { socket_address?: { port_value?: number } } } | undefined;
  return admin?.address?.socket_address?.port_value;
}

export async function startEnvoy(opts: StartEnvoyOptions): Promise<EnvoyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-envoy-'));
  let bootstrap: Record<string, unknown>;
  let name: string;
  if ('bootstrap' in opts) {
    bootstrap = structuredClone(opts.bootstrap);
    if (adminPortOf(bootstrap) === undefined) bootstrap.admin = { address: { socket_address: { address: '127.0.0.1', port_value: await freePort() } } };
    name = opts.name ?? String((bootstrap.node as { id?: string } | undefined)?.id ?? 'envoy');
  } else {
    const adminPort = opts.adminPort ?? (await freePort());
    bootstrap = buildBootstrap({ nodeId: opts.nodeId, labels: opts.labels, namespace: opts.namespace, xdsAddress: opts.xdsAddress, adminAddress: `127.0.0.1:${adminPort}` });
    // A later layer overrides the bootstrap's own runtime values.
    if (opts.runtime) (bootstrap.layered_runtime as { layers: unknown[] }).layers.push({ name: 'test-overrides', static_layer: opts.runtime });
    name = opts.nodeId;
  }
  const adminPort = adminPortOf(bootstrap)!;
  const bootstrapPath = join(dir, 'envoy.json');
  writeFileSync(bootstrapPath, JSON.stringify(bootstrap, null, 2));
  const logPath = join(dir, 'envoy.log');
  // Distinct base ids keep concurrently running Envoys (several test files at once) apart.
  const baseId = (process.pid % 100_000) * 100 + (started++ % 100);
  const args = ['-c', bootstrapPath, '--disable-hot-restart', '--base-id', String(baseId), '-l', 'info', '--log-path', logPath, '--concurrency', '1', ...(opts.extraArgs ?? [])];
  const proc = spawn(envoyBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  let exited = false;
  const exitP = new Promise<void>((r) => proc.once('exit', () => { exited = true; r(); }));
  proc.once('error', (err) => { stderr += `\nspawn failed: ${err.message}`; exited = true; });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const logs = () => { let l = ''; try { l = readFileSync(logPath, 'utf8'); } catch { /* not yet */ } return l + stderr; };
  const configDump = async () => JSON.parse((await httpGet(`${adminUrl}/config_dump?include_eds`)).body) as Record<string, unknown>;
  const poll = async (check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> => {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      if (exited) throw new Error(`envoy (${name}) exited while waiting for ${what}:\n${logs().slice(-4000)}`);
      try { if (await check()) return; } catch (err) { last = err; }
      if (Date.now() > until) throw new Error(`envoy (${name}): timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${String(last)})` : ''}; envoy log:\n${logs().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  let stopped = false;
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
    waitReady(timeoutMs = 15_000) {
      return poll(async () => { const r = await httpGet(`${adminUrl}/ready`); return r.status === 200 && r.body.trim() === 'LIVE'; }, 'admin /ready = LIVE', timeoutMs);
    },
    waitFor(pred, what, timeoutMs = 15_000) {
      return poll(async () => pred(await configDump()), what, timeoutMs);
    },
    waitForListener(port, timeoutMs = 15_000) {
      return env.waitFor((d) => JSON.stringify(d).includes(`"port_value":${port}`), `listener on port ${port}`, timeoutMs);
    },
    async stop(o) {
      if (stopped) return;
      stopped = true;
      if (o?.showLogs || process.env.MESHPILOT_ENVOY_LOGS === '1') process.stderr.write(`---- envoy log (${name}) ----\n${logs().slice(-8000)}\n`);
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exitP;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Up = the admin interface answers (Envoy may still be waiting for its first xDS config; see waitReady).
  try {
    await poll(async () => (await httpGet(`${adminUrl}/server_info`)).status === 200, 'the admin interface', 15_000);
  } catch (err) {
    await env.stop();
    throw err;
  }
  return env;
}
