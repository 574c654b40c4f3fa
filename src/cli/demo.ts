import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { buildBootstrap } from '../proxy/bootstrap.js';
import { startEchoBackend, type EchoBackend } from './echo-backend.js';
import { startServer } from './serve.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The backends that examples/demo's endpoints name. */
const DEMO_BACKENDS: Array<[string, string, number]> = [
  ['reviews-v1', '127.0.0.11', 19080],
  ['reviews-v2', '127.0.0.12', 19080],
  ['reviews-v3', '127.0.0.13', 19080],
  ['ratings-v1', '127.0.0.21', 19080],
];
const GATEWAY_NODE = 'router~127.0.0.1~ingressgateway-demo.istio-system~istio-system.svc.cluster.local';

/** Finds Envoy: MESHPILOT_ENVOY, else the project's pinned install (installed on first use). */
export function locateEnvoy(): string {
  if (process.env.MESHPILOT_ENVOY) return process.env.MESHPILOT_ENVOY;
  const r = spawnSync(process.execPath, [join(packageRoot, 'scripts/install-envoy.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('could not install Envoy (scripts/install-envoy.mjs failed)');
  return r.stdout.trim().split('\n').pop() ?? '';
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolveReq, reject) => {
    const req = request(url, { headers, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolveReq({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.end();
  });
}

async function waitForRoute(url: string, headers: Record<string, string>, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < until) {
    try {
      const r = await get(url, headers);
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`gateway did not become ready within ${deadlineMs} ms (${last})`);
}

/** Sends the demo's requests and checks where they land; returns the problems found. */
async function checkDemo(gateway: string): Promise<string[]> {
  const problems: string[] = [];
  const expect = async (what: string, headers: Record<string, string>, want: string) => {
    const r = await get(`${gateway}/reviews`, headers);
    const name = r.status === 200 ? (JSON.parse(r.body) as { name: string }).name : `HTTP ${r.status}`;
    if (name !== want) problems.push(`${what}: got ${name}, want ${want}`);
  };
  for (let i = 0; i < 20; i++) {
    await expect('end-user jason', { host: 'bookinfo.example.com', 'end-user': 'jason' }, 'reviews-v2');
    await expect('anonymous', { host: 'bookinfo.example.com' }, 'reviews-v3');
  }
  const unknown = await get(`${gateway}/`, { host: 'unknown.example.com' });
  if (unknown.status !== 404) problems.push(`undeclared host: got HTTP ${unknown.status}, want 404`);
  return problems;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run meshpilot, a gateway Envoy and demo backends for examples/demo; Ctrl-C stops all')
    .option('--config-dir <dir>', 'config folder', join(packageRoot, 'examples/demo'))
    .option('--check', 'send the demo requests, verify where they land, then stop (exit 1 on a mismatch)')
    .action(async (opts: { configDir: string; check?: boolean }) => {
      const logger = createLogger('meshpilot', process.env.MESHPILOT_LOG_LEVEL ?? 'warn');
      const backends: EchoBackend[] = [];
      let envoy: ChildProcess | undefined;
      const work = mkdtempSync(join(tmpdir(), 'meshpilot-demo-'));
      const server = await startServer({ configDir: opts.configDir, xdsAddress: '127.0.0.1:15010', adminAddress: '127.0.0.1:15014', logger });
      const stopAll = async () => {
        envoy?.kill('SIGTERM');
        await Promise.all(backends.map((b) => b.close()));
        await server.stop();
        rmSync(work, { recursive: true, force: true });
      };
      try {
        for (const [name, host, port] of DEMO_BACKENDS) backends.push(await startEchoBackend(name, host, port));
        const bootstrapPath = join(work, 'envoy.json');
        writeFileSync(bootstrapPath, JSON.stringify(buildBootstrap({
          nodeId: GATEWAY_NODE, labels: { istio: 'ingressgateway' }, namespace: 'istio-system',
          xdsAddress: server.xdsAddress, adminAddress: '127.0.0.1:15000',
        }), null, 2));
        const envoyPath = locateEnvoy();
        envoy = spawn(envoyPath, ['-c', bootstrapPath, '--disable-hot-restart', '-l', 'warning', '--log-path', join(work, 'envoy.log')], { stdio: 'ignore' });
        await waitForRoute('http://127.0.0.1:8080/', { host: 'bookinfo.example.com' }, 20_000);
      } catch (err) {
        await stopAll();
        throw err;
      }
      if (opts.check) {
        const problems = await checkDemo('http://127.0.0.1:8080');
        await stopAll();
        for (const p of problems) process.stderr.write(`demo check: ${p}\n`);
        process.stdout.write(problems.length === 0 ? 'demo check passed\n' : 'demo check FAILED\n');
        process.exit(problems.length === 0 ? 0 : 1);
      }
      process.stdout.write([
        'meshpilot demo is up: meshpilot xDS 127.0.0.1:15010 (admin http://127.0.0.1:15014), gateway Envoy on 127.0.0.1:8080 / 8443 (admin http://127.0.0.1:15000)',
        '',
        'Try:',
        "  curl -s -H 'Host: bookinfo.example.com' -H 'end-user: jason' http://127.0.0.1:8080/reviews   # -> reviews-v2",
        "  curl -s -H 'Host: bookinfo.example.com' http://127.0.0.1:8080/reviews                         # -> reviews-v3",
        "  for i in $(seq 20); do curl -s -H 'Host: ratings.example.com' http://127.0.0.1:8080/x | grep -o 'reviews-v[13]'; done | sort | uniq -c   # ~80/20",
        "  curl -s -H 'Host: ratings.example.com' http://127.0.0.1:8080/ratings                          # -> ratings-v1",
        "  curl -sk --resolve bookinfo.example.com:8443:127.0.0.1 https://bookinfo.example.com:8443/reviews # HTTPS with the demo certificate",
        "  curl -s -o /dev/null -w '%{http_code}\\n' -H 'Host: nope.example.com' http://127.0.0.1:8080/  # -> 404",
        '  curl -s http://127.0.0.1:15014/debug/syncz',
        '',
        'Edit examples/demo/routing.yaml and the gateway follows. Ctrl-C stops everything.',
        '',
      ].join('\n'));
      const shutdown = () => { stopAll().then(() => process.exit(0), () => process.exit(1)); };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
}
