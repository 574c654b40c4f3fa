/**
 * Cold translation (a sidecar and the gateway, 1,000 services / 5,000 routes: translate + encode
 * to protobuf, nothing cached) and config size with and without a namespace-scoped Sidecar.
 */
import type { ProxyInfo } from '../src/proxy/node.js';
import type { ConfigSnapshot } from '../src/registry/model.js';
import { snapshotFromObjects } from '../src/registry/snapshot.js';
import { translate } from '../src/translator/index.js';
import { RESOURCE_KINDS, type XdsResources } from '../src/translator/types.js';
import { encodeResource } from '../src/xds/encode.js';
import { gatewayProxy, NAMESPACES, scopedSidecar, sidecarProxy, syntheticMesh, type MeshSize } from './mesh.js';
import { info, kib, median, ms, percentile, report, section, timed } from './stats.js';

function encodeAll(res: XdsResources): number {
  let bytes = 0;
  for (const kind of RESOURCE_KINDS) for (const r of res[kind]) bytes += encodeResource(kind, r.value, r.name).value.length;
  return bytes;
}

function countRoutes(res: XdsResources): number {
  return res.routes.reduce((n, rc) => n + ((rc.value.virtualHosts as Array<{ routes?: unknown[] }> | undefined) ?? []).reduce((m, vh) => m + (vh.routes?.length ?? 0), 0), 0);
}

function coldRuns(snap: ConfigSnapshot, proxy: ProxyInfo, runs: number): { times: number[]; translateMs: number[]; res: XdsResources; bytes: number } {
  const times: number[] = [];
  const translateMs: number[] = [];
  let res: XdsResources | undefined;
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t = timed(() => translate(snap, proxy));
    const e = timed(() => encodeAll(t.value));
    translateMs.push(t.wallMs);
    times.push(t.wallMs + e.wallMs);
    res = t.value;
    bytes = e.value;
  }
  return { times, translateMs, res: res!, bytes };
}

export function runTranslateBench(size: MeshSize, runs: number): void {
  section(`cold translation: ${size.services} services, ${size.virtualServices} VirtualServices, ${size.routes} HTTP routes, ${NAMESPACES} namespaces (${runs} runs)`);
  const v = timed(() => syntheticMesh(size));
  const objects = v.value;
  info(`validate ${objects.length} objects: ${ms(v.wallMs)}`);
  const freeze: number[] = [];
  let snap: ConfigSnapshot | undefined;
  for (let i = 0; i < Math.min(runs, 5); i++) {
    const s = timed(() => snapshotFromObjects(objects));
    freeze.push(s.wallMs);
    snap = s.value;
  }
  info(`freeze snapshot (shared by all proxies): median ${ms(median(freeze))}`);
  for (const [label, proxy] of [['sidecar', sidecarProxy(0)], ['gateway', gatewayProxy()]] as const) {
    const r = coldRuns(snap!, proxy, runs);
    info(`${label}: ${r.res.listeners.length} listeners, ${r.res.routes.length} route configs (${countRoutes(r.res)} routes), ${r.res.clusters.length} clusters, ${r.res.endpoints.length} CLAs, ${kib(r.bytes)} protobuf`);
    info(`${label}: translate median ${ms(median(r.translateMs))}; translate + encode p50 ${ms(median(r.times))}, max ${ms(Math.max(...r.times))}`);
    const tp99 = percentile(r.translateMs, 99);
    report(`cold translation, one ${label}, p99`, ms(tp99), '≤ 500 ms', tp99 <= 500);
    const p99 = percentile(r.times, 99);
    report(`cold translation + protobuf encoding (what a first connect costs), one ${label}, p99`, ms(p99), '≤ 500 ms', p99 <= 500);
  }
}

export function runScopeBench(size: MeshSize): void {
  section(`namespace-scoped Sidecar: one sidecar in ns-0 of a ${NAMESPACES}-namespace mesh (${size.services} services)`);
  const objects = syntheticMesh(size);
  const proxy = sidecarProxy(0);
  const plain = translate(snapshotFromObjects(objects), proxy);
  const scoped = translate(snapshotFromObjects([...objects, scopedSidecar()]), proxy);
  const [a, b] = [encodeAll(plain), encodeAll(scoped)];
  info(`unscoped: ${plain.clusters.length} clusters, ${plain.endpoints.length} CLAs, ${countRoutes(plain)} routes, ${kib(a)} protobuf`);
  info(`Sidecar egress ["./*", "istio-system/*"]: ${scoped.clusters.length} clusters, ${scoped.endpoints.length} CLAs, ${countRoutes(scoped)} routes, ${kib(b)} protobuf`);
  const pct = (100 * b) / a;
  report('scoped / unscoped config bytes', `${pct.toFixed(1)}%`, '≤ 12%', pct <= 12);
}
