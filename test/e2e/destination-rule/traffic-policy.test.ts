/**
 * DestinationRule traffic policies through one real gateway Envoy fed by meshpilot's file source,
 * each shown by what the backends received and what the client got: load balancing (round robin,
 * least request, random, consistent hashing by header / cookie / query parameter / source IP with
 * ring hash and maglev), connection pools (circuit breaking overflow, one connection per request,
 * timeouts in Envoy's own config), outlier detection (5xx, gateway errors, local-origin failures),
 * subset policies overriding the top level and port-level settings.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn, type Reply } from '../gateway/fixture.js';

/** A loopback backend that counts requests and TCP connections; status and delay are scriptable. */
class CountingBackend {
  server!: Server;
  port = 0;
  requests = 0;
  connections = 0;
  status = 200;
  delayMs = 0;
  constructor(readonly name: string) {}
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.requests++;
      req.resume();
      setTimeout(() => {
        res.writeHead(this.status, { 'content-type': 'application/json', 'x-backend': this.name });
        res.end(JSON.stringify({ name: this.name }));
      }, this.delayMs);
    });
    this.server.on('connection', () => this.connections++);
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.port = a && typeof a === 'object' ? a.port : 0;
    return this;
  }
  reset(): void { this.requests = 0; this.connections = 0; }
  close(): Promise<void> {
    return new Promise((r) => { this.server.closeAllConnections(); this.server.close(() => r()); });
  }
}

const NS = 'default';
const EDGE_NODE = 'router~127.0.0.1~edge-gw-0.edge~edge.svc.cluster.local';
const EDGE_LABELS = { istio: 'edge-gw' };
const host = (name: string) => `${name}.dr.test`;

/** A STATIC ServiceEntry for `name` with one endpoint per backend port (labels per endpoint). */
function serviceEntry(name: string, eps: Array<{ port: number; labels?: Record<string, string>; locality?: string }>, ports: number[] = [80]): unknown {
  return { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: NS }, spec: {
    hosts: [host(name)], location: 'MESH_INTERNAL', resolution: 'STATIC',
    ports: ports.map((p) => ({ number: p, name: `http-${p}`, protocol: 'HTTP' })),
    endpoints: eps.map((e) => ({ address: '127.0.0.1', ports: Object.fromEntries(ports.map((p) => [`http-${p}`, e.port])), ...(e.labels ? { labels: e.labels } : {}), ...(e.locality ? { locality: e.locality } : {}) })),
  } };
}

function destinationRule(name: string, spec: Record<string, unknown>): unknown {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: NS }, spec: { host: host(name), ...spec } };
}

/** A gateway VirtualService: requests for `name.dr.test` go to that host (optionally a subset / port). */
function route(name: string, dest: { subset?: string; port?: number } = {}, vsHost = host(name)): unknown {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: vsHost.split('.')[0], namespace: NS }, spec: {
    hosts: [vsHost], gateways: ['gw'], http: [{ route: [{ destination: { host: host(name), port: { number: dest.port ?? 80 }, ...(dest.subset ? { subset: dest.subset } : {}) } }] }],
  } };
}

function send(port: number, vsHost: string, opts: { path?: string; headers?: Record<string, string>; localAddress?: string; timeoutMs?: number } = {}): Promise<Reply> {
  return get(port, opts.path ?? '/', { host: vsHost, ...opts.headers }, { timeoutMs: opts.timeoutMs ?? 10_000, localAddress: opts.localAddress });
}

/** The backend that answered, or "HTTP <status>". */
function nameOf(r: Reply): string {
  return r.status === 200 ? (JSON.parse(r.body) as { name: string }).name : `HTTP ${r.status}`;
}

describe('DestinationRule traffic policies through a real gateway Envoy', () => {
  const cfg = new ConfigDir();
  const lb = ['lb-a', 'lb-b', 'lb-c'].map((n) => new CountingBackend(n));
  const slow = new CountingBackend('slow');
  const perConn = new CountingBackend('per-conn');
  const pooled = new CountingBackend('pooled');
  const healthy = new CountingBackend('healthy');
  const failing = new CountingBackend('failing');
  const gwHealthy = new CountingBackend('gw-healthy');
  const gwFailing = new CountingBackend('gw-failing');
  const localHealthy = new CountingBackend('local-healthy');
  const [locHome, locEu, locAp] = ['loc-home', 'loc-eu', 'loc-ap'].map((n) => new CountingBackend(n));
  const [fpGold, fpSilver] = ['fp-gold', 'fp-silver'].map((n) => new CountingBackend(n));
  const all = [...lb, slow, perConn, pooled, healthy, failing, gwHealthy, gwFailing, localHealthy, locHome, locEu, locAp, fpGold, fpSilver];
  let refusedPort = 0;
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess;
  /** A second gateway, in namespace "edge" (not the root namespace), for the DestinationRule lookup order. */
  let edge: EnvoyProcess;
  let port = 0;
  let edgePort = 0;

  before(async () => {
    await Promise.all(all.map((b) => b.start()));
    slow.delayMs = 1500;
    failing.status = 503;
    gwFailing.status = 502;
    [port, refusedPort, edgePort] = await Promise.all([freePort(), freePort(), freePort()]);
    const lbEps = lb.map((b) => ({ port: b.port, labels: { pool: 'lb' } }));
    const lbRule = (name: string, loadBalancer: unknown) => [serviceEntry(name, lbEps), destinationRule(name, { trafficPolicy: { loadBalancer } }), route(name)];
    cfg.write('gateway.yaml', [{ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: NS }, spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*.dr.test'] }] } }]);
    cfg.write('lb.yaml', [
      ...lbRule('rr', { simple: 'ROUND_ROBIN' }),
      ...lbRule('lr', { simple: 'LEAST_REQUEST' }),
      ...lbRule('random', { simple: 'RANDOM' }),
      ...lbRule('by-header', { consistentHash: { httpHeaderName: 'x-user', ringHash: { minimumRingSize: 2048 } } }),
      ...lbRule('by-cookie', { consistentHash: { httpCookie: { name: 'sticky', path: '/app', ttl: '120s' } } }),
      ...lbRule('by-query', { consistentHash: { httpQueryParameterName: 'user', maglev: { tableSize: 5003 } } }),
      ...lbRule('by-source', { consistentHash: { useSourceIp: true } }),
      // Subset policy over the top level: subset "sticky" hashes by header, subset "spread" inherits round robin.
      serviceEntry('subsets', lbEps),
      destinationRule('subsets', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } }, subsets: [
        { name: 'spread', labels: { pool: 'lb' } },
        { name: 'sticky', labels: { pool: 'lb' }, trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } } },
      ] }),
      route('subsets', { subset: 'spread' }, 'subset-spread.dr.test'),
      route('subsets', { subset: 'sticky' }, 'subset-sticky.dr.test'),
      // Port-level settings: port 81 hashes by header, port 80 keeps the top-level round robin.
      serviceEntry('ports', lbEps, [80, 81]),
      destinationRule('ports', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, portLevelSettings: [{ port: { number: 81 }, loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } }] } }),
      route('ports', { port: 80 }, 'ports-80.dr.test'),
      route('ports', { port: 81 }, 'ports-81.dr.test'),
    ]);
    cfg.write('pool.yaml', [
      serviceEntry('cb', [{ port: slow.port }]),
      destinationRule('cb', { trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } } }),
      route('cb'),
      serviceEntry('per-conn', [{ port: perConn.port }]),
      destinationRule('per-conn', { trafficPolicy: { connectionPool: { http: { maxRequestsPerConnection: 1 } } } }),
      route('per-conn'),
      serviceEntry('pooled', [{ port: pooled.port }]),
      route('pooled'),
      serviceEntry('settings', [{ port: pooled.port }]),
      destinationRule('settings', { trafficPolicy: { connectionPool: {
        tcp: { connectTimeout: '3s', idleTimeout: '45s', maxConnectionDuration: '600s', tcpKeepalive: { probes: 4, time: '20s', interval: '7s' } },
        http: { h2UpgradePolicy: 'UPGRADE', idleTimeout: '30s', maxConcurrentStreams: 50, http2MaxRequests: 77, maxRetries: 5 },
      } } }),
      route('settings'),
    ]);
    const od = { consecutive5xxErrors: 1, interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 100 };
    cfg.write('outlier.yaml', [
      serviceEntry('od-5xx', [{ port: healthy.port }, { port: failing.port }]),
      destinationRule('od-5xx', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: od } }),
      route('od-5xx'),
      serviceEntry('od-gw', [{ port: gwHealthy.port }, { port: gwFailing.port }]),
      destinationRule('od-gw', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: { ...od, consecutive5xxErrors: 0, consecutiveGatewayErrors: 1 } } }),
      route('od-gw'),
      serviceEntry('od-local', [{ port: localHealthy.port }, { port: refusedPort }]),
      destinationRule('od-local', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: { ...od, consecutive5xxErrors: 0, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 1 } } }),
      route('od-local'),
    ]);
    cfg.write('edge.yaml', [
      { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'edge', namespace: 'edge' }, spec: { selector: EDGE_LABELS, servers: [{ port: { number: edgePort, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*'] }] } },
      serviceEntry('lookup', lb.map((b) => ({ port: b.port, labels: { v: b.name } }))),
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'lookup', namespace: 'edge' }, spec: {
        hosts: ['lookup.edge.test'], gateways: ['edge'], http: [{ route: [{ destination: { host: host('lookup'), port: { number: 80 }, subset: 'pick' } }] }] } },
      // Locality: the edge gateway sits in us-east/zone1 (its istio-locality label).
      serviceEntry('loc', [{ port: locHome.port, locality: 'us-east/zone1' }, { port: locEu.port, locality: 'eu-west/zone1' }, { port: locAp.port, locality: 'ap-south/zone1' }]),
      destinationRule('loc', { trafficPolicy: { outlierDetection: od, loadBalancer: { simple: 'ROUND_ROBIN', localityLbSetting: { enabled: true, failover: [{ from: 'us-east', to: 'eu-west' }] } } } }),
      serviceEntry('dist', [{ port: lb[0].port, locality: 'us-east/zone1' }, { port: lb[1].port, locality: 'us-east/zone2' }]),
      destinationRule('dist', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN', localityLbSetting: { distribute: [{ from: 'us-east/zone1/*', to: { 'us-east/zone1/*': 80, 'us-east/zone2/*': 20 } }] } } } }),
      // failoverPriority: endpoints labelled tier=gold first, the rest once they are ejected.
      serviceEntry('fp', [{ port: fpSilver.port, labels: { tier: 'silver' } }, { port: fpGold.port, labels: { tier: 'gold' } }]),
      destinationRule('fp', { trafficPolicy: { outlierDetection: od, loadBalancer: { simple: 'ROUND_ROBIN', localityLbSetting: { failoverPriority: ['tier=gold'] } } } }),
      ...['loc', 'dist', 'fp'].map((n) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: n, namespace: 'edge' }, spec: {
        hosts: [`${n}.edge.test`], gateways: ['edge'], http: [{ route: [{ destination: { host: host(n), port: { number: 80 } } }] }] } })),
    ]);
    mp = await startMeshpilot({ configDir: cfg.dir });
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    edge = await startEnvoy({ nodeId: EDGE_NODE, labels: { ...EDGE_LABELS, 'istio-locality': 'us-east.zone1' }, xdsAddress: mp.xdsAddress });
    await envoy.waitForListener(port, 30_000);
    await edge.waitForListener(edgePort, 30_000);
    await eventually(async () => (await send(port, host('rr'))).status === 200, 'rr.dr.test served', 30_000);
  });

  after(async () => {
    await edge?.stop();
    await envoy?.stop();
    await mp?.stop();
    await Promise.all(all.map((b) => b.close()));
    cfg.remove();
  });

  async function tally(n: number, vsHost: string, opts: Parameters<typeof send>[2] = {}, gatewayPort = port): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const w = nameOf(await send(gatewayPort, vsHost, opts));
      counts[w] = (counts[w] ?? 0) + 1;
    }
    return counts;
  }

  /** The active cluster of that name in Envoy's own config dump. */
  async function activeCluster(name: string): Promise<Record<string, unknown> | undefined> {
    const configs = (await envoy.configDump()).configs as Array<{ dynamic_active_clusters?: Array<{ cluster: Record<string, unknown> }> }>;
    return configs.flatMap((c) => c.dynamic_active_clusters ?? []).find((c) => c.cluster.name === name)?.cluster;
  }

  /** Sends to NAME.edge.test through the edge gateway until its cluster has ejected an endpoint. */
  async function edgeEjection(name: string): Promise<void> {
    const key = `cluster.outbound|80||${host(name)}.outlier_detection.ejections_enforced_total`;
    await eventually(async () => { await send(edgePort, `${name}.edge.test`); return ((await edge.stats('outlier_detection\\.ejections_enforced_total'))[key] ?? 0) >= 1; }, `an ejection in ${key}`, 20_000);
  }

  const stat = async (name: string) => (await envoy.stats(name.replace(/[|.]/g, (c) => `\\${c}`)))[name] ?? 0;

  it('ROUND_ROBIN spreads evenly over three backends', async () => {
    const counts = await tally(300, host('rr'));
    process.stderr.write(`ROUND_ROBIN over 300 requests: ${JSON.stringify(counts)}\n`);
    // Round robin with one worker is near-deterministic: 100 each, small slack for the first pick.
    for (const b of lb) assert.ok(counts[b.name] >= 90 && counts[b.name] <= 110, JSON.stringify(counts));
    assert.equal((await activeCluster('outbound|80||rr.dr.test'))?.lb_policy, undefined); // ROUND_ROBIN is Envoy's default (omitted in the dump)
  });

  it('LEAST_REQUEST and RANDOM reach every backend', async () => {
    for (const name of ['lr', 'random']) {
      const counts = await tally(150, host(name));
      process.stderr.write(`${name} over 150 requests: ${JSON.stringify(counts)}\n`);
      // Expected 50 each; binomial sd ≈ 5.8, so ≥ 20 is more than 5 sd away from failing by chance.
      for (const b of lb) assert.ok((counts[b.name] ?? 0) >= 20, `${name}: ${JSON.stringify(counts)}`);
    }
    assert.equal((await activeCluster('outbound|80||lr.dr.test'))?.lb_policy, 'LEAST_REQUEST');
    assert.equal((await activeCluster('outbound|80||random.dr.test'))?.lb_policy, 'RANDOM');
  });

  it('consistentHash httpHeaderName (ringHash): same header sticks over 50 requests, 20 keys reach several backends', async () => {
    for (const user of ['alice', 'bob', 'carol']) {
      const counts = await tally(50, host('by-header'), { headers: { 'x-user': user } });
      assert.equal(Object.keys(counts).length, 1, `${user}: ${JSON.stringify(counts)}`);
    }
    const picks = new Set<string>();
    for (let i = 0; i < 20; i++) picks.add(nameOf(await send(port, host('by-header'), { headers: { 'x-user': `user-${i}` } })));
    assert.ok(picks.size >= 2, [...picks].join());
    const c = await activeCluster('outbound|80||by-header.dr.test');
    assert.equal(c?.lb_policy, 'RING_HASH');
    assert.equal(String((c?.ring_hash_lb_config as { minimum_ring_size?: string })?.minimum_ring_size), '2048');
  });

  it('consistentHash httpCookie: Envoy sets the cookie with name, path and ttl; replaying it sticks', async () => {
    const first = await send(port, host('by-cookie'), { path: '/app/x' });
    assert.equal(first.status, 200);
    const setCookie = String(first.headers['set-cookie'] ?? '');
    assert.match(setCookie, /^sticky=[^;]+/, setCookie);
    assert.match(setCookie, /Max-Age=120/, setCookie);
    assert.match(setCookie, /Path=\/app/, setCookie);
    const cookie = setCookie.split(';')[0];
    const counts = await tally(50, host('by-cookie'), { path: '/app/x', headers: { cookie } });
    assert.deepEqual(Object.keys(counts), [nameOf(first)], JSON.stringify(counts));
    // Different cookies (each a new client) land on more than one backend.
    const picks = new Set<string>();
    for (let i = 0; i < 20; i++) picks.add(nameOf(await send(port, host('by-cookie'), { path: '/app/x', headers: { cookie: `sticky=k${i}` } })));
    assert.ok(picks.size >= 2, [...picks].join());
  });

  it('consistentHash httpQueryParameterName (maglev tableSize): same parameter sticks', async () => {
    for (const user of ['u1', 'u2', 'u3']) {
      const counts = await tally(50, host('by-query'), { path: `/p?user=${user}&n=1` });
      assert.equal(Object.keys(counts).length, 1, `${user}: ${JSON.stringify(counts)}`);
    }
    const picks = new Set<string>();
    for (let i = 0; i < 20; i++) picks.add(nameOf(await send(port, host('by-query'), { path: `/p?user=q${i}` })));
    assert.ok(picks.size >= 2, [...picks].join());
    const c = await activeCluster('outbound|80||by-query.dr.test');
    assert.equal(c?.lb_policy, 'MAGLEV');
    assert.equal(String((c?.maglev_lb_config as { table_size?: string })?.table_size), '5003');
  });

  it('consistentHash useSourceIp: each client address sticks to one backend', async () => {
    const picks = new Set<string>();
    for (let i = 1; i <= 12; i++) {
      const localAddress = `127.0.0.${i}`;
      const counts = await tally(15, host('by-source'), { localAddress });
      assert.equal(Object.keys(counts).length, 1, `${localAddress}: ${JSON.stringify(counts)}`);
      picks.add(Object.keys(counts)[0]);
    }
    assert.ok(picks.size >= 2, [...picks].join());
  });

  it('a subset trafficPolicy overrides the top level; portLevelSettings apply to their port only', async () => {
    const spread = await tally(60, 'subset-spread.dr.test', { headers: { 'x-user': 'same' } });
    for (const b of lb) assert.ok((spread[b.name] ?? 0) >= 15, `spread subset: ${JSON.stringify(spread)}`);
    const sticky = await tally(60, 'subset-sticky.dr.test', { headers: { 'x-user': 'same' } });
    assert.equal(Object.keys(sticky).length, 1, `sticky subset: ${JSON.stringify(sticky)}`);
    const p80 = await tally(60, 'ports-80.dr.test', { headers: { 'x-user': 'same' } });
    for (const b of lb) assert.ok((p80[b.name] ?? 0) >= 15, `port 80: ${JSON.stringify(p80)}`);
    const p81 = await tally(60, 'ports-81.dr.test', { headers: { 'x-user': 'same' } });
    assert.equal(Object.keys(p81).length, 1, `port 81: ${JSON.stringify(p81)}`);
  });

  it('connectionPool maxConnections=1 + http1MaxPendingRequests=1: a burst of 20 overflows with 503 x-envoy-overloaded', async () => {
    await eventually(async () => (await send(port, host('cb'))).status === 200, 'cb served', 20_000);
    slow.reset();
    const replies = await Promise.all(Array.from({ length: 20 }, () => send(port, host('cb'), { timeoutMs: 20_000 })));
    const overloaded = replies.filter((r) => r.status === 503 && r.headers['x-envoy-overloaded'] === 'true').length;
    const ok = replies.filter((r) => r.status === 200).length;
    process.stderr.write(`circuit breaker burst of 20: ${ok} served, ${overloaded} overflowed\n`);
    assert.equal(ok + overloaded, 20);
    assert.ok(overloaded >= 14, `overflowed ${overloaded}`);
    assert.ok(slow.requests <= 6 && slow.connections <= 3, `backend saw ${slow.requests} requests on ${slow.connections} connections`);
    assert.ok((await stat('cluster.outbound|80||cb.dr.test.upstream_rq_pending_overflow')) > 0);
  });

  it('connectionPool maxRequestsPerConnection=1: one backend connection per request (pooled reuses)', async () => {
    await eventually(async () => (await send(port, host('per-conn'))).status === 200 && (await send(port, host('pooled'))).status === 200, 'pool hosts served', 20_000);
    perConn.reset();
    pooled.reset();
    for (let i = 0; i < 20; i++) {
      assert.equal((await send(port, host('per-conn'))).status, 200);
      assert.equal((await send(port, host('pooled'))).status, 200);
    }
    process.stderr.write(`maxRequestsPerConnection=1: ${perConn.connections} connections for ${perConn.requests} requests; default: ${pooled.connections} for ${pooled.requests}\n`);
    assert.equal(perConn.requests, 20);
    assert.ok(perConn.connections >= 19, `${perConn.connections} connections`);
    assert.ok(pooled.connections <= 2, `pooled: ${pooled.connections} connections`);
  });

  it('connectionPool timeouts, keepalive, h2 upgrade and limits reach Envoy (its own config dump)', async () => {
    const c = await activeCluster('outbound|80||settings.dr.test') as Record<string, any> | undefined;
    assert.ok(c, 'settings cluster active');
    assert.equal(c.connect_timeout, '3s');
    assert.deepEqual(c.upstream_connection_options?.tcp_keepalive, { keepalive_probes: 4, keepalive_time: 20, keepalive_interval: 7 });
    const opts = c.typed_extension_protocol_options?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    assert.equal(opts?.common_http_protocol_options?.idle_timeout, '30s');
    assert.equal(opts?.common_http_protocol_options?.max_connection_duration, '600s');
    assert.equal(opts?.explicit_http_config?.http2_protocol_options?.max_concurrent_streams, 50);
    const t = c.circuit_breakers?.thresholds?.[0];
    assert.equal(t?.max_requests, 77);
    assert.equal(t?.max_retries, 5);
  });

  it('outlierDetection consecutive5xxErrors=1: the always-503 backend is ejected and traffic avoids it', async () => {
    await eventually(async () => { await send(port, host('od-5xx')); return (await stat('cluster.outbound|80||od-5xx.dr.test.outlier_detection.ejections_enforced_total')) >= 1; }, 'an ejection', 20_000);
    healthy.reset();
    failing.reset();
    const counts = await tally(40, host('od-5xx'));
    process.stderr.write(`after 5xx ejection, 40 requests: ${JSON.stringify(counts)}\n`);
    assert.deepEqual(counts, { healthy: 40 });
    assert.equal(failing.requests, 0);
  });

  it('outlierDetection consecutiveGatewayErrors=1 (5xx off): the always-502 backend is ejected', async () => {
    await eventually(async () => { await send(port, host('od-gw')); return (await stat('cluster.outbound|80||od-gw.dr.test.outlier_detection.ejections_enforced_consecutive_gateway_failure')) >= 1; }, 'a gateway-failure ejection', 20_000);
    gwFailing.reset();
    const counts = await tally(40, host('od-gw'));
    assert.deepEqual(counts, { 'gw-healthy': 40 });
    assert.equal(gwFailing.requests, 0);
  });

  it('outlierDetection splitExternalLocalOriginErrors + consecutiveLocalOriginFailures: a refusing endpoint is ejected', async () => {
    await eventually(async () => { await send(port, host('od-local')); return (await stat('cluster.outbound|80||od-local.dr.test.outlier_detection.ejections_enforced_consecutive_local_origin_failure')) >= 1; }, 'a local-origin ejection', 20_000);
    const failsBefore = await stat('cluster.outbound|80||od-local.dr.test.upstream_cx_connect_fail');
    const counts = await tally(30, host('od-local'));
    assert.deepEqual(counts, { 'local-healthy': 30 });
    assert.equal(await stat('cluster.outbound|80||od-local.dr.test.upstream_cx_connect_fail'), failsBefore, 'no new connection attempts to the ejected endpoint');
  });

  it('DestinationRule lookup: workloadSelector (matchLabels), then client namespace, then service namespace (exportTo honoured), then root namespace', async () => {
    /** A rule for lookup.dr.test whose subset "pick" is the one backend `to`. */
    const pickRule = (name: string, namespace: string, to: string, extra: Record<string, unknown> = {}) => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace },
      spec: { host: host('lookup'), subsets: [{ name: 'pick', labels: { v: to } }], ...extra } });
    const root = pickRule('root', 'istio-system', 'lb-c');
    const service = pickRule('service', NS, 'lb-b');
    const client = pickRule('client', 'edge', 'lb-a');
    const selected = (labels: Record<string, string>) => pickRule('selected', 'edge', 'lb-c', { workloadSelector: { matchLabels: labels }, exportTo: ['.'] });
    const steps: Array<[string, unknown[], string]> = [
      ['a rule selecting the gateway workload wins in its namespace', [root, service, client, selected(EDGE_LABELS)], 'lb-c'],
      ['a selector that does not match the gateway is ignored: the client namespace rule', [root, service, client, selected({ istio: 'other' })], 'lb-a'],
      ['no client-namespace rule: the service namespace rule', [root, service], 'lb-b'],
      ['the service namespace rule exported only to "." is hidden: the root namespace rule', [root, { ...service, spec: { ...service.spec, exportTo: ['.'] } }], 'lb-c'],
    ];
    for (const [what, docs, want] of steps) {
      cfg.write('lookup-rules.yaml', docs);
      await eventually(async () => nameOf(await send(edgePort, 'lookup.edge.test')) === want, `${what} → ${want}`, 20_000);
      const counts = await tally(10, 'lookup.edge.test', {}, edgePort);
      assert.deepEqual(counts, { [want]: 10 }, what);
    }
  });

  it('localityLbSetting failover (with outlier detection): local endpoints first; once ejected, the failover region, never the other', async () => {
    await eventually(async () => nameOf(await send(edgePort, 'loc.edge.test')) === 'loc-home', 'loc served locally', 20_000);
    assert.deepEqual(await tally(30, 'loc.edge.test', {}, edgePort), { 'loc-home': 30 });
    locHome.status = 503;
    await edgeEjection('loc');
    locAp.reset();
    const counts = await tally(30, 'loc.edge.test', {}, edgePort);
    process.stderr.write(`locality failover after ejection, 30 requests: ${JSON.stringify(counts)}\n`);
    assert.deepEqual(counts, { 'loc-eu': 30 });
    assert.equal(locAp.requests, 0);
  });

  it('localityLbSetting distribute: 80/20 between the proxy zone and the next zone', async () => {
    await eventually(async () => (await send(edgePort, 'dist.edge.test')).status === 200, 'dist served', 20_000);
    const counts = await tally(300, 'dist.edge.test', {}, edgePort);
    process.stderr.write(`locality distribute 80/20 over 300 requests: ${JSON.stringify(counts)}\n`);
    // Expected 60 for zone2; binomial sd ≈ 6.9: 35..85 is more than 3.5 sd each way (an even split would give 150).
    assert.equal((counts['lb-a'] ?? 0) + (counts['lb-b'] ?? 0), 300, JSON.stringify(counts));
    assert.ok(counts['lb-b'] >= 35 && counts['lb-b'] <= 85, JSON.stringify(counts));
  });

  it('localityLbSetting failoverPriority (tier=gold): gold endpoints only; once ejected, the others', async () => {
    await eventually(async () => nameOf(await send(edgePort, 'fp.edge.test')) === 'fp-gold', 'fp served by gold', 20_000);
    assert.deepEqual(await tally(30, 'fp.edge.test', {}, edgePort), { 'fp-gold': 30 });
    fpGold.status = 503;
    await edgeEjection('fp');
    assert.deepEqual(await tally(30, 'fp.edge.test', {}, edgePort), { 'fp-silver': 30 });
  });

  it('loadBalancer warmup (window, minimumPercent, aggression) reaches Envoy as round-robin slow start, accepted (share of a new endpoint not shown)', async () => {
    cfg.write('warm.yaml', [serviceEntry('warm', lb.map((b) => ({ port: b.port }))),
      destinationRule('warm', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN', warmup: { duration: '300s', minimumPercent: 5, aggression: 2 } } } }), route('warm')]);
    await eventually(async () => (await send(port, host('warm'))).status === 200, 'warm served', 20_000);
    const c = await activeCluster('outbound|80||warm.dr.test') as { round_robin_lb_config?: { slow_start_config?: Record<string, unknown> } } | undefined;
    assert.deepEqual(c?.round_robin_lb_config?.slow_start_config, { slow_start_window: '300s', aggression: { default_value: 2, runtime_key: 'upstream.warmup.aggression' }, min_weight_percent: { value: 5 } });
  });

  it('Envoy accepted everything (no NACK)', async () => {
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
  });
});
