/**
 * What a proxy's first connect costs (a sidecar and the gateway, 1,000 services / 5,000 routes):
 * translation, then an ADS stream answering the proxy's first requests in warming order (CDS, EDS
 * for every cluster, LDS, RDS, SDS) with a cold EncodeCache: content hashes (versions), protobuf
 * encoding of every resource and the gRPC serialisation of each DiscoveryResponse. Also config size
 * with and without a namespace-scoped Sidecar.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { createMetrics } from '../src/admin/metrics.js';
import { silentLogger } from '../src/log.js';
import type { ProxyInfo } from '../src/proxy/node.js';
import type { ConfigSnapshot } from '../src/registry/model.js';
import { snapshotFromObjects } from '../src/registry/snapshot.js';
import { translate } from '../src/translator/index.js';
import { RESOURCE_KINDS, TYPE_URLS, type XdsResources } from '../src/translator/types.js';
import { AdsConnection, EncodeCache } from '../src/xds/connection.js';
import { encodeResource } from '../src/xds/encode.js';
import { envoyRoot } from '../src/xds/protos.js';
import { adsServiceDefinition, type DiscoveryResponse } from '../src/xds/service.js';
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

interface FirstConnect { translateMs: number; totalMs: number; res: XdsResources; responses: number; bytes: number }

/** One proxy's first connect, from translation to the last serialised response; nothing cached. */
function firstConnect(snap: ConfigSnapshot, proxy: ProxyInfo, serialize: (r: DiscoveryResponse) => Buffer): FirstConnect {
  let responses = 0;
  let bytes = 0;
  const t0 = performance.now();
  const res = translate(snap, proxy);
  const translateMs = performance.now() - t0;
  const conn = new AdsConnection(1, (r) => { responses++; bytes += serialize(r).length; }, new EncodeCache(), silentLogger, createMetrics());
  conn.proxy = proxy;
  conn.setResources(res);
  // What Envoy asks for on connect: wildcard CDS and LDS, then the EDS, RDS and SDS names they reference.
  conn.onRequest({ typeUrl: TYPE_URLS.clusters });
  conn.onRequest({ typeUrl: TYPE_URLS.endpoints, resourceNames: res.endpoints.map((r) => r.name) });
  conn.onRequest({ typeUrl: TYPE_URLS.listeners });
  conn.onRequest({ typeUrl: TYPE_URLS.routes, resourceNames: res.routes.map((r) => r.name) });
  if (res.secrets.length) conn.onRequest({ typeUrl: TYPE_URLS.secrets, resourceNames: res.secrets.map((r) => r.name) });
  return { translateMs, totalMs: performance.now() - t0, res, responses, bytes };
}

export function runTranslateBench(size: MeshSize, runs: number): void {
  section(`first connect: ${size.services} services, ${size.virtualServices} VirtualServices, ${size.routes} HTTP routes, ${NAMESPACES} namespaces (${runs} runs per proxy)`);
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
  // The server loads the Envoy protos and builds its service definition at start, before any proxy connects.
  envoyRoot();
  const { responseSerialize } = (adsServiceDefinition() as ServiceDefinition & Record<string, { responseSerialize: (r: DiscoveryResponse) => Buffer }>).StreamAggregatedResources;
  for (const [label, proxy] of [['sidecar', sidecarProxy(0)], ['gateway', gatewayProxy()]] as const) {
    firstConnect(snap!, proxy, responseSerialize); // warm-up, not counted
    const translateMs: number[] = [];
    const totalMs: number[] = [];
    let last: FirstConnect | undefined;
    for (let i = 0; i < runs; i++) {
      // Only the figures are kept: one proxy's config at a time is live, as for a single connect.
      last = undefined;
      last = firstConnect(snap!, proxy, responseSerialize);
      translateMs.push(last.translateMs);
      totalMs.push(last.totalMs);
    }
    const { res, responses, bytes } = last!;
    info(`${label}: ${res.listeners.length} listeners, ${res.routes.length} route configs (${countRoutes(res)} routes), ${res.clusters.length} clusters, ${res.endpoints.length} CLAs; ${responses} responses, ${kib(bytes)} on the wire`);
    info(`${label}: translate p50 ${ms(median(translateMs))}, p99 ${ms(percentile(translateMs, 99))}; first connect p50 ${ms(median(totalMs))}, p99 ${ms(percentile(totalMs, 99))}, max ${ms(Math.max(...totalMs))}`);
    const tp99 = percentile(translateMs, 99);
    report(`cold translation, one ${label}, p99`, ms(tp99), '≤ 500 ms', tp99 <= 500);
    const p99 = percentile(totalMs, 99);
    report(`first connect (translate + versions + protobuf encoding + serialised responses, cold cache), one ${label}, p99`, ms(p99), '≤ 500 ms', p99 <= 500);
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
