/**
 * A few real Envoys beside the simulated proxies of the fan-out benchmark: gateway nodes (labels
 * istio=bench-envoy) that receive every service's cluster and endpoints, and the routes of the
 * bench's own Gateway when the folder has one (bench/mesh.ts benchEnvoyGateway: 127.0.0.1 on a
 * free port, shared by the Envoys with SO_REUSEPORT). A change counts as delivered to an Envoy when
 * its own config_dump shows it (polled every 20 ms: the time is an upper bound, by at most that).
 * Route configurations are polled by their versions only (config_dump's `mask`: a few bytes), and
 * dumped in full only when a version moved: the full dump of a gateway's routes is hundreds of KiB
 * of JSON, and making and reading it every 20 ms for each Envoy took more of the two shared cores
 * than meshpilot's push it was timing.
 */
import { performance } from 'node:perf_hooks';
import { buildBootstrap } from '../src/proxy/bootstrap.js';
import { startEnvoy, type EnvoyProcess } from '../test/helpers/envoy.js';
import { httpGet } from '../test/helpers/meshpilot.js';
import { freePort } from '../test/helpers/ports.js';

const POLL_MS = 20;

export async function startBenchEnvoys(count: number, xdsAddress: string, delta: boolean): Promise<EnvoyProcess[]> {
  const envoys: EnvoyProcess[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const nodeId = `router~127.0.0.1~bench-envoy-${i}.ns-0~ns-0.svc.cluster.local`;
      const bootstrap = buildBootstrap({ nodeId, labels: { istio: 'bench-envoy' }, xdsAddress, adminAddress: `127.0.0.1:${await freePort()}`, delta });
      envoys.push(await startEnvoy({ bootstrap, name: `bench-envoy-${i}` }));
    }
    for (const e of envoys) await e.waitReady(60_000);
  } catch (err) {
    for (const e of envoys) await e.stop();
    throw err;
  }
  return envoys;
}

/** When (performance.now()) the Envoy's route configurations first contained `needle`; Infinity if not within the timeout. */
export async function whenRouteSeen(envoy: EnvoyProcess, needle: string, timeoutMs: number): Promise<number> {
  const full = `${envoy.adminUrl}/config_dump?resource=dynamic_route_configs`;
  const versions = `${full}&mask=version_info`;
  const end = performance.now() + timeoutMs;
  let seen: string | undefined;
  const versionsOf = (body: string) => [...body.matchAll(/"version_info": "([^"]*)"/g)].map((m) => m[1]).join(',');
  while (performance.now() < end) {
    const v = await httpGet(versions).catch(() => undefined);
    const at = performance.now();
    if (v && v.body !== seen) {
      // A version moved (or the first look): does the content now hold the change? Its time is
      // when the versions were read if the full dump is of those same versions, else now.
      const r = await httpGet(full).catch(() => undefined);
      if (!r) continue;
      if (r.body.includes(needle)) return versionsOf(r.body) === versionsOf(v.body) ? at : performance.now();
      seen = v.body;
    }
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
  return Infinity;
}

/** When (performance.now()) the Envoy's endpoints of clusters whose whole name matches `clusterRegex` first contained `needle`; Infinity if not within the timeout. */
export async function whenEndpointSeen(envoy: EnvoyProcess, clusterRegex: string, needle: string, timeoutMs: number): Promise<number> {
  return whenDumpShows(`${envoy.adminUrl}/config_dump?include_eds&resource=dynamic_endpoint_configs&name_regex=${encodeURIComponent(clusterRegex)}`, needle, timeoutMs);
}

async function whenDumpShows(url: string, needle: string, timeoutMs: number): Promise<number> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    const r = await httpGet(url).catch(() => undefined);
    if (r?.body.includes(needle)) return performance.now();
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
  return Infinity;
}
