/**
 * Tiny programs run inside pod namespaces for the pod-network tests: a "tag" TCP server that
 * answers every connection with its tag and the address the connection landed on, and a client
 * that connects, reads the answer and prints it. Both run with `node -e`, so they need no file
 * a non-root uid (the proxy user 1337) could not read.
 */
import type { ChildProcess } from 'node:child_process';
import type { PodNetwork } from '../../helpers/pod-network.js';

const TAG_SERVER = `
const net = require('node:net');
const [tag, host, ...ports] = process.argv.slice(1);
let pending = ports.length;
for (const port of ports) {
  const srv = net.createServer((s) => {
    s.on('error', () => {});
    s.end(tag + ' ' + s.localAddress + ':' + s.localPort + ' uid=' + process.getuid() + '\\n');
  });
  srv.on('error', (e) => { console.error(e.message); process.exit(1); });
  srv.listen(Number(port), host, () => { if (--pending === 0) console.log(JSON.stringify({ listening: ports.map(Number) })); });
}
`;

const TCP_CLIENT = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port), timeout: 5000 });
let out = '';
s.setEncoding('utf8');
s.on('data', (c) => (out += c));
s.on('end', () => { process.stdout.write(out); process.exit(0); });
s.on('timeout', () => { console.error('ETIMEDOUT'); process.exit(1); });
s.on('error', (e) => { console.error(e.code || e.message); process.exit(1); });
`;

const HTTP_SERVER = `
const http = require('node:http');
const [name, port] = process.argv.slice(1);
http.createServer((req, res) => res.end(JSON.stringify({ pod: name, path: req.url, host: req.headers.host }))).listen(Number(port), '0.0.0.0', () => console.log(JSON.stringify({ listening: [Number(port)] })));
`;

const HTTP_GET = `
const http = require('node:http');
const req = http.get(process.argv[1], { timeout: 5000 }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (c) => (body += c));
  res.on('end', () => { console.log(JSON.stringify({ status: res.statusCode, body })); process.exit(0); });
});
req.on('timeout', () => req.destroy(new Error('ETIMEDOUT')));
req.on('error', (e) => { console.error(e.code || e.message); process.exit(1); });
`;

export interface RunningApp {
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Resolves once the program prints its `{"listening": [...]}` line (bounded). */
function awaitListening(proc: ChildProcess, what: string, timeoutMs = 10_000): Promise<RunningApp> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const stop = () => new Promise<void>((r) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return r();
      proc.once('exit', () => r());
      proc.kill('SIGKILL');
    });
    const timer = setTimeout(() => { void stop(); reject(new Error(`${what} not listening within ${timeoutMs} ms: ${err.trim()}`)); }, timeoutMs);
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('"listening"')) { clearTimeout(timer); resolve({ proc, stop }); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited ${code}: ${err.trim()}`)); });
  });
}

/** Starts a TCP server in `pod` answering `<tag> <localAddr>:<localPort> uid=<uid>` on each port. */
export function startTagServer(net: PodNetwork, pod: string, opts: { tag: string; ports: number[]; host?: string; user?: number }): Promise<RunningApp> {
  const proc = net.spawn(pod, process.execPath, ['-e', TAG_SERVER, opts.tag, opts.host ?? '0.0.0.0', ...opts.ports.map(String)], { user: opts.user });
  return awaitListening(proc, `tag server ${opts.tag} in pod ${pod}`);
}

/** Connects from `pod` to host:port and returns what the server answered (throws on failure). */
export async function tcpRead(net: PodNetwork, pod: string, host: string, port: number, opts: { user?: number; group?: number } = {}): Promise<string> {
  const r = await net.exec(pod, process.execPath, ['-e', TCP_CLIENT, host, String(port)], { user: opts.user, group: opts.group, timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`connect ${host}:${port} from pod ${pod}${opts.user === undefined ? '' : ` as uid ${opts.user}`}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Starts an HTTP server in `pod` answering `{"pod", "path", "host"}`. */
export function startHttpServer(net: PodNetwork, pod: string, port: number): Promise<RunningApp> {
  const proc = net.spawn(pod, process.execPath, ['-e', HTTP_SERVER, pod, String(port)]);
  return awaitListening(proc, `http server in pod ${pod}`);
}

/** GETs `url` from inside `pod`. */
export async function httpGetFrom(net: PodNetwork, pod: string, url: string): Promise<{ status: number; body: string }> {
  const r = await net.exec(pod, process.execPath, ['-e', HTTP_GET, url], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`GET ${url} from pod ${pod}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as { status: number; body: string };
}
