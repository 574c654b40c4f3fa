/**
 * `meshpilot explain` checked against a real Envoy gateway: every request is explained by the CLI
 * (offline, from the same config folder, and from the running meshpilot with --server), then sent
 * through Envoy; the backend that answered (or the status Envoy gave) must be what explain said.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Explanation } from '../../../src/explain/http.js';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { request as httpsRequest } from 'node:https';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn, selfSignedCert, serviceWithBackends, subsetsRule, tlsSecret } from '../gateway/fixture.js';

const run = promisify(execFile);
const MAIN = resolve('dist/src/cli/main.js');

const vs = (name: string, hosts: string[], http: unknown[]) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { hosts, gateways: ['gw'], http } });
const to = (subset: string, weight?: number) => ({ destination: { host: 'reviews', subset }, ...(weight !== undefined ? { weight } : {}) });

interface Case { what: string; method?: string; host: string; path: string; headers?: Record<string, string> }

const CASES: Case[] = [
  { what: 'header match', host: 'a.example.com', path: '/', headers: { 'end-user': 'jason' } },
  { what: 'header match, other value falls through to the split', host: 'a.example.com', path: '/', headers: { 'end-user': 'bob' } },
  { what: 'regex path, case-insensitive', host: 'a.example.com', path: '/ITEMS/42' },
  { what: 'regex path must match the whole path', host: 'a.example.com', path: '/items/42/more' },
  { what: 'query parameter', host: 'a.example.com', path: '/q?v=3' },
  { what: 'exact path is case-sensitive', host: 'a.example.com', path: '/Exact' },
  { what: 'exact path', host: 'a.example.com', path: '/exact' },
  { what: 'method match', method: 'DELETE', host: 'a.example.com', path: '/thing' },
  { what: 'exact host beats the wildcard VirtualService', host: 'b.example.com', path: '/' },
  { what: 'suffix wildcard host', host: 'zzz.example.com', path: '/' },
  { what: 'direct response', host: 'b.example.com', path: '/health' },
  { what: 'host no virtual host declares', host: 'nobody.test', path: '/' },
  { what: 'no route of the virtual host matches', host: 'c.example.com', path: '/other' },
];

describe('meshpilot explain predicts what a real Envoy gateway does', () => {
  const cfg = new ConfigDir();
  let backends: EchoBackend[] = [];
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  let port: number;
  let tlsPort: number;

  before(async () => {
    for (const v of ['v1', 'v2', 'v3']) backends.push(await startEchoBackend(`reviews-${v}`, '127.0.0.1', 0));
    port = await freePort();
    tlsPort = await freePort();
    cfg.write('services.yaml', [...serviceWithBackends('reviews', backends.map((b, i) => ({ backend: b, labels: { version: `v${i + 1}` } }))), subsetsRule('reviews', ['v1', 'v2', 'v3'])]);
    cfg.write('gateway.yaml', [{ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' },
      spec: { selector: GATEWAY_LABELS, servers: [
        { port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.example.com', 'nobody.test'] },
        { port: { number: tlsPort, name: 'https', protocol: 'HTTPS' }, bind: '127.0.0.1', hosts: ['secure.example.com'], tls: { mode: 'SIMPLE', credentialName: 'secure-cert' } },
      ] } },
      tlsSecret('secure-cert', 'istio-system', selfSignedCert('secure.example.com', ['secure.example.com']))]);
    cfg.write('routes.yaml', [
      vs('a', ['a.example.com'], [
        { name: 'jason', match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [to('v2')] },
        { name: 'items', match: [{ uri: { regex: '/items/[0-9]+' }, ignoreUriCase: true }], route: [to('v1')] },
        { name: 'query', match: [{ queryParams: { v: { exact: '3' } } }], route: [to('v3')] },
        { name: 'exact', match: [{ uri: { exact: '/exact' } }], route: [to('v2')] },
        { name: 'delete', match: [{ method: { exact: 'DELETE' } }], route: [to('v3')] },
        { name: 'split', route: [to('v1', 50), to('v3', 50), to('v2', 0)] },
      ]),
      vs('b', ['b.example.com'], [
        { name: 'health', match: [{ uri: { exact: '/health' } }], directResponse: { status: 299, body: { string: 'healthy' } } },
        { name: 'b-all', route: [to('v2')] },
      ]),
      vs('wild', ['*.example.com'], [{ name: 'wild', route: [to('v1')] }]),
      vs('c', ['c.example.com'], [{ name: 'only-api', match: [{ uri: { prefix: '/api' } }], route: [to('v3')] }]),
      vs('secure', ['secure.example.com'], [{ name: 'secure-v3', route: [to('v3')] }]),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => (await get(port, '/', { host: 'b.example.com' })).status === 200, 'gateway routes b.example.com', 30_000);
  });

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    await Promise.all(backends.map((b) => b.close()));
    cfg.remove();
  });

  async function explain(c: Case, source: string[]): Promise<Explanation> {
    const hdrs = Object.entries(c.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}:${v}`]);
    const { stdout } = await run(process.execPath, [MAIN, 'explain', ...source, '--node-id', GATEWAY_NODE, '--label', 'istio=ingressgateway', '-o', 'json',
      c.method ?? 'GET', `http://${c.host}:${port}${c.path}`, ...hdrs], { timeout: 30_000 });
    return JSON.parse(stdout) as Explanation;
  }

  /** The backend names explain says can answer (clusters with a share > 0, mapped by endpoint port). */
  function predictedBackends(e: Explanation): string[] {
    if (e.outcome.kind !== 'route') return [];
    const names = new Set<string>();
    for (const c of e.outcome.clusters) for (const ep of c.endpoints) {
      const b = backends.find((x) => x.port === ep.port && x.host === ep.address);
      if (b) names.add(b.name);
    }
    return [...names].sort();
  }

  for (const c of CASES) {
    it(c.what, async () => {
      const e = await explain(c, ['--config-dir', cfg.dir]);
      const expected = predictedBackends(e);
      const tries = expected.length > 1 ? 40 : 3;
      const answered = new Set<string>();
      for (let i = 0; i < tries; i++) {
        const r = await get(port, c.path, { host: `${c.host}:${port}`, ...(c.headers ?? {}) }, { method: c.method ?? 'GET', timeoutMs: 10_000 });
        if (e.outcome.kind === 'route') {
          assert.equal(r.status, 200, `${c.what}: explain predicted ${expected.join('|')}, Envoy answered ${r.status}\n${e.steps.join('\n')}`);
          answered.add((JSON.parse(r.body) as { name: string }).name);
        } else if (e.outcome.kind === 'direct-response') {
          assert.equal(r.status, e.outcome.status);
          assert.equal(r.body, e.outcome.body);
        } else {
          assert.equal(e.outcome.kind, 'refused', JSON.stringify(e.outcome));
          assert.equal(r.status, (e.outcome as { status?: number }).status, `${c.what}: ${e.steps.join('\n')}`);
        }
      }
      if (e.outcome.kind === 'route') {
        // Every backend that answered was predicted; with a split, every predicted one answered (50/50 over 40 requests).
        assert.deepEqual([...answered].sort(), expected, `${c.what}: answered ${[...answered].join(',')} vs explained ${expected.join(',')}\n${e.steps.join('\n')}`);
      }
    });
  }

  it('explains the weighted split with its weights and the VirtualService rule', async () => {
    const e = await explain({ what: '', host: 'a.example.com', path: '/' }, ['--config-dir', cfg.dir]);
    assert.equal(e.virtualService, 'VirtualService default/a');
    assert.equal(e.route?.name, 'split');
    assert.equal(e.rejectedRoutes.length, 5);
    assert.equal(e.outcome.kind, 'route');
    if (e.outcome.kind === 'route') assert.deepEqual(e.outcome.clusters.map((c) => [c.name, c.percent]), [['outbound|9080|v1|reviews.default.svc.cluster.local', 50], ['outbound|9080|v3|reviews.default.svc.cluster.local', 50]]);
  });

  it('--server reads what the running meshpilot sent the gateway and agrees with --config-dir', async () => {
    const c: Case = { what: '', host: 'a.example.com', path: '/exact', headers: { 'end-user': 'bob' } };
    const admin = mp.adminUrl.replace(/^http:\/\//, '');
    const [offline, live] = await Promise.all([explain(c, ['--config-dir', cfg.dir]), explain(c, ['--server', admin])]);
    assert.deepEqual(live, offline);
    assert.deepEqual(predictedBackends(live), ['reviews-v2']);
    const r = await get(port, c.path, { host: `${c.host}:${port}`, ...c.headers });
    assert.equal((JSON.parse(r.body) as { name: string }).name, 'reviews-v2');
  });

  it('https: the chain picked by SNI routes to the predicted backend; an SNI no chain accepts fails the handshake', async () => {
    const viaTls = (sni: string) => new Promise<string>((res, rej) => {
      const req = httpsRequest({ host: '127.0.0.1', port: tlsPort, path: '/', servername: sni, headers: { host: sni }, rejectUnauthorized: false, agent: false, timeout: 10_000 }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () => res(r.statusCode === 200 ? (JSON.parse(body) as { name: string }).name : `HTTP ${r.statusCode}`));
      });
      req.on('error', rej);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    const run1 = async (host: string) => JSON.parse((await run(process.execPath, [MAIN, 'explain', '--config-dir', cfg.dir, '--node-id', GATEWAY_NODE, '--label', 'istio=ingressgateway', '-o', 'json', `https://${host}:${tlsPort}/`], { timeout: 30_000 })).stdout) as Explanation;
    const e = await run1('secure.example.com');
    assert.match(e.routeConfiguration ?? '', /^https\./);
    assert.deepEqual(predictedBackends(e), ['reviews-v3']);
    await eventually(async () => (await viaTls('secure.example.com')) === 'reviews-v3', 'TLS listener ready', 30_000);
    const wrong = await run1('other.example.com');
    assert.equal(wrong.outcome.kind, 'refused');
    await assert.rejects(viaTls('other.example.com'));
  });

  it('Envoy accepted every resource (no NACK)', async () => {
    const syncz = await mp.getJson<Array<{ id: string; types: Record<string, { lastNack?: unknown }> }>>('/debug/syncz');
    assert.deepEqual(nacksIn(syncz), []);
  });
});
