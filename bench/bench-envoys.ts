/**
 * A few real Envoys beside the simulated proxies of the fan-out benchmark: gateway nodes (labels
 * istio=bench-envoy) that receive every service's cluster and endpoints, and the routes of the
 * bench's own Gateway when the folder has one (bench/mesh.ts benchEnvoyGateway: 127.0.0.1 on a
 * free port, shared by the Envoys with SO_REUSEPORT). A change counts as delivered to an Envoy when
 * its own config_dump shows it (polled every 20 ms: the time is an upper bound, by at most that).
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
  return whenDumpShows(`${envoy.adminUrl}/config_dump?resource=dynamic_route_configs`, needle, timeoutMs);
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
