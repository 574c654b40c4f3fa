/**
 * A pod's Envoy sidecar, set up the way Istio does it: `meshpilot proxy-init` installs capture in
 * the pod's network namespace, then Envoy runs there as uid 1337 with a bootstrap from
 * `meshpilot bootstrap`, talking xDS over a unix socket and serving admin on another.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { buildBootstrap } from '../../src/proxy/bootstrap.js';
import { envoyBinary } from './envoy.js';
import type { PodNetwork } from './pod-network.js';

const MAIN = resolve('dist/src/cli/main.js');

/** Envoy must be readable by uid 1337: place a link (or copy) of the binary in a world-readable folder. */
export function envoyForProxyUser(dir: string): string {
  const target = join(dir, 'envoy');
  if (!existsSync(target)) {
    try { linkSync(envoyBinary(), target); } catch { copyFileSync(envoyBinary(), target); }
    chmodSync(target, 0o755);
  }
  return target;
}

export function adminGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ socketPath, path, timeout: 5000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('admin timeout')));
    req.end();
  });
}

export interface Sidecar {
  pod: string;
  nodeId: string;
  adminSocket: string;
  proc: ChildProcess;
  logs(): string;
  stats(): Promise<Record<string, number>>;
  configDump(): Promise<string>;
  waitFor(pred: (dump: string) => boolean, what: string, timeoutMs?: number): Promise<void>;
}

export async function startSidecar(net: PodNetwork, opts: { pod: string; namespace?: string; labels: Record<string, string>; xdsSocket: string; workDir: string; capture?: boolean }): Promise<Sidecar> {
  const ns = opts.namespace ?? 'default';
  const pod = net.pod(opts.pod);
  if (opts.capture ?? true) {
    const init = await net.exec(opts.pod, process.execPath, [MAIN, 'proxy-init']);
    if (init.code !== 0) throw new Error(`proxy-init in ${opts.pod} failed: ${init.stderr}`);
  }
  const dir = join(opts.workDir, opts.pod);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
  const nodeId = `sidecar~${pod.ip}~${opts.pod}.${ns}~${ns}.svc.cluster.local`;
  const adminSocket = join(dir, 'admin.sock');
  const bootstrapPath = join(dir, 'envoy.json');
  writeFileSync(bootstrapPath, JSON.stringify(buildBootstrap({ nodeId, labels: opts.labels, namespace: ns, xdsAddress: `unix://${opts.xdsSocket}`, adminAddress: `unix://${adminSocket}` })));
  chmodSync(bootstrapPath, 0o644);
  const logPath = join(dir, 'envoy.log');
  const envoy = envoyForProxyUser(opts.workDir);
  const proc = net.spawn(opts.pod, envoy, ['-c', bootstrapPath, '--disable-hot-restart', '-l', 'info', '--log-path', logPath, '--concurrency', '1'], { user: 1337, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const logs = () => { try { return readFileSync(logPath, 'utf8') + stderr; } catch { return stderr; } };
  const configDump = async () => (await adminGet(adminSocket, '/config_dump?include_eds')).body;
  const sidecar: Sidecar = {
    pod: opts.pod, nodeId, adminSocket, proc, logs, configDump,
    async stats() {
      const r = await adminGet(adminSocket, '/stats?format=json');
      const out: Record<string, number> = {};
      for (const s of (JSON.parse(r.body) as { stats: Array<{ name: string; value?: number }> }).stats) if (typeof s.value === 'number') out[s.name] = s.value;
      return out;
    },
    async waitFor(pred, what, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (proc.exitCode !== null) throw new Error(`envoy in ${opts.pod} exited: ${logs().slice(-3000)}`);
        try { if (pred(await configDump())) return; } catch { /* admin not up yet */ }
        await new Promise((r) => setTimeout(r, 150));
      }
      throw new Error(`${opts.pod}: timed out waiting for ${what}; envoy log:\n${logs().slice(-3000)}`);
    },
  };
  return sidecar;
}

/**
 * A small HTTP client run inside a pod: sends `count` requests to `url` with `headers` and prints
 * {counts by answering pod, failures}. Run with `node -e`.
 */
export const HTTP_LOOP = `
const http = require('node:http');
const [url, headersJson, countText] = process.argv.slice(1);
const headers = JSON.parse(headersJson);
const count = Number(countText);
const counts = {};
const failures = [];
function one() {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let who = 'HTTP ' + res.statusCode;
        if (res.statusCode === 200) { try { who = JSON.parse(body).pod; } catch { who = 'bad body'; } }
        counts[who] = (counts[who] || 0) + 1;
        if (res.statusCode !== 200) failures.push(who);
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('ETIMEDOUT')));
    req.on('error', (e) => { failures.push(e.code || e.message); counts[e.code || 'error'] = (counts[e.code || 'error'] || 0) + 1; resolve(); });
  });
}
(async () => { for (let i = 0; i < count; i++) await one(); console.log(JSON.stringify({ counts, failures })); })();
`;

/**
 * An HTTP server answering {pod, path, host} on ADDRESS:PORT (args: NAME PORT [ADDRESS, default
 * 0.0.0.0; an absolute path listens on that unix socket, open to every user] [DELAY_MS before
 * answering, default 0]); prints {"listening":[PORT]} when up.
 */
export const HTTP_APP = `
const http = require('node:http');
const fs = require('node:fs');
const [name, port, address, delay] = process.argv.slice(1);
const server = http.createServer((req, res) => setTimeout(() => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ pod: name, path: req.url, host: req.headers.host })); }, Number(delay || 0)));
const onListening = () => console.log(JSON.stringify({ listening: [Number(port)] }));
if (address && address.startsWith('/')) server.listen(address, () => { fs.chmodSync(address, 0o777); onListening(); });
else server.listen(Number(port), address || '0.0.0.0', onListening);
`;

/** A TCP server that answers each connection with its tag. */
export const TCP_TAG = `
const net = require('node:net');
const [tag, port] = process.argv.slice(1);
net.createServer((s) => { s.on('error', () => {}); s.end(tag + '\\n'); }).listen(Number(port), '0.0.0.0');
`;

/** Opens N TCP connections one after another and counts the tags that answer. */
export const TCP_LOOP = `
const net = require('node:net');
const [host, port, countText] = process.argv.slice(1);
const counts = {};
function one() {
  return new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port), timeout: 5000 });
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (c) => (out += c));
    s.on('end', () => { const t = out.trim() || 'empty'; counts[t] = (counts[t] || 0) + 1; resolve(); });
    s.on('timeout', () => { counts.timeout = (counts.timeout || 0) + 1; s.destroy(); resolve(); });
    s.on('error', (e) => { counts[e.code || 'error'] = (counts[e.code || 'error'] || 0) + 1; resolve(); });
  });
}
(async () => { for (let i = 0; i < Number(countText); i++) await one(); console.log(JSON.stringify(counts)); })();
`;
