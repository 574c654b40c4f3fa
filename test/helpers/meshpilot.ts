/**
 * Runs `meshpilot serve` as a real child process (the same binary users run) and exposes its
 * addresses, logs and debug views to end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';

const MAIN = resolve('dist/src/cli/main.js');

export interface MeshpilotProcess {
  xdsAddress: string;
  /** The TLS + token xDS address, when started with --xds-tls-cert. */
  secureXdsAddress?: string;
  adminUrl: string;
  proc: ChildProcess;
  /** All log lines so far (JSON strings). */
  logs(): string[];
  /** Parsed log events matching a predicate. */
  events(pred: (e: Record<string, unknown>) => boolean): Record<string, unknown>[];
  getJson<T = unknown>(path: string): Promise<T>;
  getText(path: string): Promise<{ status: number; body: string }>;
  /** Resolves when a log event matching pred appears (bounded). */
  waitForLog(pred: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request(url, { timeout: 5000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error(`timeout ${url}`)));
    req.end();
  });
}

export async function startMeshpilot(opts: { configDir?: string; extraArgs?: string[]; xdsAddress?: string; adminAddress?: string; debounceMs?: number; timeoutMs?: number }): Promise<MeshpilotProcess> {
  const args = [MAIN, 'serve', ...(opts.configDir ? ['--config-dir', opts.configDir] : []), ...(opts.extraArgs ?? []),
    '--xds-address', opts.xdsAddress ?? '127.0.0.1:0', '--admin-address', opts.adminAddress ?? '127.0.0.1:0',
    '--debounce', String(opts.debounceMs ?? 100)];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHPILOT_LOG_LEVEL: 'debug' } });
  const lines: string[] = [];
  const waiters: Array<{ pred: (e: Record<string, unknown>) => boolean; done: (e: Record<string, unknown>) => void }> = [];
  let buf = '';
  const onData = (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      let ev: Record<string, unknown>;
      try { ev = JSON.parse(line) as Record<string, unknown>; } catch { continue; }
      for (const w of [...waiters]) if (w.pred(ev)) { waiters.splice(waiters.indexOf(w), 1); w.done(ev); }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', (c: Buffer) => lines.push(`[stderr] ${c.toString('utf8')}`));
  let exited = false;
  const exitPromise = new Promise<void>((r) => proc.once('exit', () => { exited = true; r(); }));

  const parsed = () => lines.flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } });
  const waitForLog = (pred: (e: Record<string, unknown>) => boolean, timeoutMs = 15_000) => {
    const existing = parsed().find(pred);
    if (existing) return Promise.resolve(existing);
    return new Promise<Record<string, unknown>>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`meshpilot log event not seen within ${timeoutMs} ms; logs:\n${lines.slice(-40).join('\n')}`)), timeoutMs);
      waiters.push({ pred, done: (e) => { clearTimeout(timer); res(e); } });
      void exitPromise.then(() => { clearTimeout(timer); rej(new Error(`meshpilot exited; logs:\n${lines.slice(-40).join('\n')}`)); });
    });
  };
  const serving = await waitForLog((e) => e.msg === 'meshpilot serving', opts.timeoutMs ?? 20_000);
  const adminUrl = `http://${String(serving.adminAddress)}`;
  return {
    xdsAddress: String(serving.xdsAddress),
    secureXdsAddress: typeof serving.secureXdsAddress === 'string' ? serving.secureXdsAddress : undefined,
    adminUrl,
    proc,
    logs: () => [...lines],
    events: (pred) => parsed().filter(pred),
    async getJson<T>(path: string) { const r = await httpGet(adminUrl + path); return JSON.parse(r.body) as T; },
    getText: (path) => httpGet(adminUrl + path),
    waitForLog,
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(t);
    },
  };
}
