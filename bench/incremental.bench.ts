/**
 * Incremental cost of one endpoint change, as the server does it for one connected proxy:
 * registry update → snapshot freeze → translate and hand to the connection (`regenerate`, with
 * serve's own callbacks: only the changed ClusterLoadAssignments, replaced by name, else a full
 * translation) → SotW push (encode what changed, build the responses). CPU time per change at two
 * mesh sizes (measured alternately), and their ratio.
 */
import { createMetrics } from '../src/admin/metrics.js';
import { silentLogger } from '../src/log.js';
import type { ProxyInfo } from '../src/proxy/node.js';
import { Registry } from '../src/registry/store.js';
import type { RegistryChange } from '../src/registry/store.js';
import { proxyGenerators } from '../src/cli/proxy-generators.js';
import { regenerate } from '../src/xds/server.js';
import { RESOURCE_KINDS, TYPE_URLS, type XdsResources } from '../src/translator/types.js';
import { AdsConnection, EncodeCache } from '../src/xds/connection.js';
import type { DiscoveryResponse } from '../src/xds/service.js';
import { endpointSlice, gatewayProxy, sidecarProxy, syntheticMesh, type MeshSize } from './mesh.js';
import { info, kib, median, ms, percentile, report, section, timed } from './stats.js';

interface ChangeCost { cpuMs: number; wallMs: number; endpointOnly: boolean; parts: Record<string, number>; bytesSent: number; responses: number }

/** A connected proxy as the ADS server holds it, subscribed to everything it was given. */
function connect(proxy: ProxyInfo, res: XdsResources, sent: DiscoveryResponse[]): AdsConnection {
  const conn = new AdsConnection(1, (r) => sent.push(r), new EncodeCache(), silentLogger, createMetrics());
  conn.proxy = proxy;
  conn.setResources(res);
  for (const kind of RESOURCE_KINDS) {
    const named = kind === 'endpoints' || kind === 'routes' || kind === 'secrets';
    conn.onRequest({ typeUrl: TYPE_URLS[kind], resourceNames: named ? res[kind].map((r) => r.name) : [] });
    // ACK what was sent, as Envoy does.
    const last = sent[sent.length - 1];
    if (last?.typeUrl === TYPE_URLS[kind]) conn.onRequest({ typeUrl: TYPE_URLS[kind], versionInfo: last.versionInfo, responseNonce: last.nonce, resourceNames: named ? res[kind].map((r) => r.name) : [] });
  }
  sent.length = 0;
  return conn;
}

/**
 * A mesh of `size` with `proxy` connected; the returned function makes endpoint change `i` and
 * says what it cost.
 */
function setUp(size: MeshSize, proxy: ProxyInfo): (i: number) => ChangeCost {
  const registry = new Registry();
  registry.applyAll(syntheticMesh(size).map((object) => ({ type: 'add' as const, object })));
  const sent: DiscoveryResponse[] = [];
  // The callbacks `meshpilot serve` gives the ADS server, and the function its pushes call.
  const generators = proxyGenerators(registry, silentLogger);
  const conn = connect(proxy, generators.generate(proxy), sent);
  const initial = conn.currentResources()!;
  const subscriptions = new Map([[TYPE_URLS.endpoints, initial.endpoints.map((e) => e.name)], [TYPE_URLS.routes, initial.routes.map((e) => e.name)]]);
  let change: RegistryChange | undefined;
  registry.onChange((c) => { change = c; });
  return (i) => {
    sent.length = 0;
    const service = (i * 7919) % size.services;
    const c0 = process.cpuUsage();
    const apply = timed(() => registry.apply({ type: 'update', object: endpointSlice(service, i) }));
    const freeze = timed(() => registry.snapshot());
    const tr = timed(() => regenerate(conn, proxy, generators, change?.endpoints));
    const push = timed(() => conn.pushAll());
    const c = process.cpuUsage(c0);
    // Envoy's ACK names every resource it subscribes to (an endpoint change changes no name).
    for (const r of sent) conn.onRequest({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames: subscriptions.get(r.typeUrl) ?? [] });
    return {
      cpuMs: (c.user + c.system) / 1000,
      wallMs: apply.wallMs + freeze.wallMs + tr.wallMs + push.wallMs,
      endpointOnly: tr.value === 'endpoints',
      parts: { 'registry update': apply.wallMs, 'snapshot freeze': freeze.wallMs, 'translate + update': tr.wallMs, 'encode + respond': push.wallMs },
      bytesSent: sent.reduce((n, r) => n + r.resources.reduce((m, a) => m + a.value.length, 0), 0),
      responses: sent.length,
    };
  };
}

export function runIncrementalBench(small: MeshSize, large: MeshSize, changes: number): void {
  for (const [label, proxy] of [['sidecar', sidecarProxy(0)], ['gateway', gatewayProxy()]] as const) {
    section(`incremental: one endpoint change, one ${label} (${changes} changes per mesh size)`);
    const p99s: number[] = [];
    const medians: number[] = [];
    // Both meshes side by side, their changes interleaved: a slow spell of the shared machine
    // (CPU steal, another process) then costs both sizes alike instead of skewing the ratio.
    const sizes = [small, large];
    const steps = sizes.map((size) => setUp(size, proxy));
    const measured: ChangeCost[][] = sizes.map(() => []);
    for (let i = 1; i <= changes; i++) steps.forEach((step, s) => measured[s].push(step(i)));
    for (const [s, size] of sizes.entries()) {
      const costs = measured[s];
      const cpu = costs.map((c) => c.cpuMs);
      p99s.push(percentile(cpu, 99));
      medians.push(median(cpu));
      const parts = Object.keys(costs[0].parts).map((k) => `${k} ${ms(median(costs.map((c) => c.parts[k])))}`).join(', ');
      info(`${size.services} services: CPU p50 ${ms(median(cpu))}, p99 ${ms(percentile(cpu, 99))}; ${median(costs.map((c) => c.responses))} responses, ${kib(median(costs.map((c) => c.bytesSent)))} sent per change; ${costs.filter((c) => c.endpointOnly).length}/${costs.length} by the endpoint-only path`);
      info(`  where the time goes (median wall): ${parts}`);
      report(`one endpoint change, one ${label}, ${size.services} services, CPU p99`, ms(percentile(cpu, 99)), '≤ 20 ms', percentile(cpu, 99) <= 20);
    }
    const ratio = medians[1] / medians[0];
    report(`cost ratio ${large.services} vs ${small.services} services (${label}, median CPU)`, `${ratio.toFixed(2)}x`, '≤ 1.5x', ratio <= 1.5);
  }
}
