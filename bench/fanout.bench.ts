/**
 * Fan-out: N simulated ADS clients (bench/load-client.ts) plus a few real Envoys
 * (bench/bench-envoys.ts) against a real `meshpilot serve` child process on a config folder.
 * Measures connect-and-sync time, the time from a config change until every proxy ACKed it and
 * every Envoy shows it (p50 / p99 / last) — an EndpointSlice rewritten in the folder (new
 * endpoints: EDS), and one VirtualService rewritten (a header set on one route: new RDS, through
 * a full translation for every proxy that can see its host) —
 * meshpilot's CPU (steady state and per change), the load client's own CPU per change (it shares
 * the machine: when it is busy, ACK times include its queueing) and RSS per connected proxy.
 * `cpuProfDir` runs meshpilot with --cpu-prof (the profile is written when it exits).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import type { EnvoyProcess } from '../test/helpers/envoy.js';
import type { Resource } from '../src/api/index.js';
import type { ResourceKind } from '../src/translator/types.js';
import { freePort } from '../test/helpers/ports.js';
import { startBenchEnvoys, whenEndpointSeen, whenRouteSeen } from './bench-envoys.js';
import { connectProxies, protocolFor, type AdsMode, type SimulatedProxy } from './load-client.js';
import { benchEnvoyGateway, changingVirtualService, endpointSlice, nsOf, syntheticMesh, type MeshSize } from './mesh.js';
import { info, median, ms, percentile, report, section } from './stats.js';

const CLK_TCK = 100;

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(10);
  }
  return check();
}

export interface FanoutOptions {
  proxies: number;
  size: MeshSize;
  changes: number;
  mode: AdsMode;
  /** Real Envoys connected beside the simulated proxies (default 3). */
  envoys?: number;
  /** meshpilot serve --push-concurrency (default: meshpilot's). */
  pushConcurrency?: number;
  cpuProfDir?: string;
  /** Which changes to measure, in turn on the same meshpilot and proxies (default both): an EndpointSlice rewrite, or one VirtualService rewritten. */
  changeKinds?: FanoutChange[];
}

export type FanoutChange = 'endpoints' | 'vs';

/** The bench Envoys' own Gateway (bench/mesh.ts benchEnvoyGateway), which the changing VirtualService is also bound to. */
const BENCH_GATEWAY = 'istio-system/bench-envoys';

export async function runFanoutBench(opts: FanoutOptions): Promise<void> {
  const envoyCount = opts.envoys ?? 3;
  section(`fan-out (${opts.mode}): ${opts.proxies} simulated proxies + ${envoyCount} Envoys, ${opts.size.services} services, ${opts.size.routes} routes, meshpilot serve as a child process${opts.pushConcurrency ? ` (--push-concurrency ${opts.pushConcurrency})` : ''}`);
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-bench-'));
  const objects = syntheticMesh(opts.size);
  const write = (file: string, docs: unknown[]) => {
    writeFileSync(join(dir, `.${file}.tmp`), docs.map((d) => stringify(d)).join('---\n'));
    renameSync(join(dir, `.${file}.tmp`), join(dir, file));
  };
  // The objects a change rewrites live in files of their own, so the registry sees a one-object change.
  const changing = (o: Resource) => {
    const name = (o.metadata as { name: string }).name;
    return (o.kind === 'EndpointSlice' && name === 'svc-0-slice') || (o.kind === 'VirtualService' && name === 'vs-0');
  };
  write('mesh.yaml', objects.filter((o) => !changing(o)));
  write('changing.yaml', [endpointSlice(0)]);
  const gatewayPort = await freePort();
  write('changing-vs.yaml', [changingVirtualService(opts.size, BENCH_GATEWAY), benchEnvoyGateway(gatewayPort)]);
  const args = [
    // As the image and `npm start` run it (Dockerfile ENTRYPOINT).
    '--max-semi-space-size=32',
    ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []),
    resolve('dist/src/cli/main.js'), 'serve', '--config-dir', dir, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--debounce', '100',
    ...(opts.pushConcurrency ? ['--push-concurrency', String(opts.pushConcurrency)] : []),
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHPILOT_LOG_LEVEL: 'info' } });
  let proxies: SimulatedProxy[] = [];
  let envoys: EnvoyProcess[] = [];
  try {
    const xds = await new Promise<string>((res, rej) => {
      let buf = '';
      const t = setTimeout(() => rej(new Error('meshpilot did not start within 60 s')), 60_000);
      proc.once('exit', (code) => rej(new Error(`meshpilot exited (${code})`)));
      proc.stdout!.on('data', (c: Buffer) => {
        // Keep only a bounded tail of the log: it is read for the "serving" line, then drained.
        buf = (buf + c.toString('utf8')).slice(-65536);
        const m = /"msg":"meshpilot serving"/.test(buf) ? /"xdsAddress":"([^"]+)"/.exec(buf) : null;
        if (m) { clearTimeout(t); res(m[1]); }
      });
      proc.stderr!.on('data', () => undefined);
    });
    const pid = proc.pid!;
    // From now on remember when meshpilot applied a config change and when each push loop ended.
    const marks: Array<{ msg: string; time: number; affected?: number }> = [];
    let tail = '';
    proc.stdout!.on('data', (c: Buffer) => {
      tail += c.toString('utf8');
      let i;
      while ((i = tail.indexOf('\n')) >= 0) {
        const line = tail.slice(0, i);
        tail = tail.slice(i + 1);
        if (!line.includes('"msg":"config changed"') && !line.includes('"msg":"push"')) continue;
        try {
          const e = JSON.parse(line) as { msg: string; time: number; affected?: number };
          marks.push({ msg: e.msg, time: e.time, affected: e.affected });
        } catch { /* not a log line */ }
      }
      if (tail.length > 1 << 20) tail = '';
    });
    await sleep(1000);
    const rss0 = rssMiB(pid);
    info(`meshpilot pid ${pid} on ${xds}: RSS ${rss0.toFixed(0)} MiB before any proxy`);

    const ids = Array.from({ length: opts.proxies }, (_, n) => ({ nodeId: `sidecar~10.251.${(n >> 8) & 255}.${n & 255}~load-${n}.${nsOf(n)}~${nsOf(n)}.svc.cluster.local`, labels: { app: `load-${n % 20}` } }));
    const tConnect = performance.now();
    proxies = await connectProxies(protocolFor(opts.mode), xds, ids);
    const synced = () => proxies.every((p) => ['clusters', 'endpoints', 'listeners', 'routes'].every((k) => p.acks.has(k as never)));
    const ok = await until(synced, 300_000);
    const connectMs = performance.now() - tConnect;
    const errors = proxies.flatMap((p) => p.errors);
    info(`${proxies.filter((p) => p.acks.size >= 4).length}/${opts.proxies} proxies connected and ACKed CDS, EDS, LDS and RDS in ${ms(connectMs)}${ok ? '' : ' (timed out)'}${errors.length ? `; ${errors.length} client errors, e.g. ${errors[0]}` : ''}`);
    envoys = await startBenchEnvoys(envoyCount, xds, opts.mode === 'delta');
    if (envoyCount) info(`${envoyCount} Envoys connected (${opts.mode === 'delta' ? 'Delta' : 'SotW'}) and ready`);
    // The load client's own leftovers (an earlier mode's proxies, connection set-up) collected now,
    // not during a timed change (npm run bench runs node with --expose-gc).
    (globalThis as { gc?: () => void }).gc?.();
    await sleep(2000);
    const rss1 = rssMiB(pid);
    const perProxy = (rss1 - rss0) / (opts.proxies + envoyCount);
    const cpu0 = cpuSeconds(pid);
    const idleMs = 5000;
    await sleep(idleMs);
    const steadyCores = (cpuSeconds(pid) - cpu0) / (idleMs / 1000);
    report('steady-state meshpilot CPU', `${steadyCores.toFixed(2)} cores`, '≤ 0.5 core', steadyCores <= 0.5);
    report('meshpilot RSS', `${rss1.toFixed(0)} MiB = ${rss0.toFixed(0)} MiB + ${(perProxy * 1024).toFixed(0)} KiB per proxy`, '≤ 400 MB + ≤ 1 MB per proxy', rss0 <= 400 && perProxy <= 1);

    for (const kind of opts.changeKinds ?? ['endpoints', 'vs']) {
      const label = kind === 'vs' ? 'VirtualService change' : 'endpoint change';
      const allLatencies: number[] = [];
      // The same, counted from meshpilot's config event (its registry applied the change).
      const fromEvent: number[] = [];
      const appliedMs: number[] = [];
      const lastMs: number[] = [];
      const changeCpu: number[] = [];
      const clientCpu: number[] = [];
      // The real Envoys' CPU (applying the change, answering the polls of their config): the same cores.
      const envoyCpu: number[] = [];
      const envoyLast: number[] = [];
      // What a change is ACKed as: new endpoints (EDS), or new route configurations (RDS).
      const acked: ResourceKind = kind === 'vs' ? 'routes' : 'endpoints';
      for (let c = 1; c <= opts.changes; c++) {
        const before = new Map(proxies.map((p) => [p, p.acks.get(acked)?.version]));
        const receivedBefore = totalReceived(proxies);
        const cpuBefore = cpuSeconds(pid);
        const clientBefore = process.cpuUsage();
        const envoyCpuBefore = envoys.reduce((n, e) => n + cpuSeconds(e.proc.pid!), 0);
        const t0 = performance.now();
        const t0Wall = Date.now();
        let seen: Array<Promise<number>>;
        if (kind === 'vs') {
          write('changing-vs.yaml', [changingVirtualService(opts.size, BENCH_GATEWAY, c), benchEnvoyGateway(gatewayPort)]);
          seen = envoys.map((e) => whenRouteSeen(e, `"bench-change-${c}"`, 120_000));
        } else {
          write('changing.yaml', [endpointSlice(0, c)]);
          // The changed endpoint's new address (bench/mesh.ts endpointSlice), as Envoy shows it.
          seen = envoys.map((e) => whenEndpointSeen(e, '.*svc-0\\.ns-0\\..*', `"address": "10.200.${(c >> 8) & 255}.${c & 255}"`, 120_000));
        }
        const done = await until(() => proxies.every((p) => p.acks.get(acked)?.version !== before.get(p)), 120_000);
        const envoyLat = (await Promise.all(seen)).map((t) => t - t0);
        const cu = process.cpuUsage(clientBefore);
        clientCpu.push((cu.user + cu.system) / 1e6);
        envoyCpu.push(envoys.reduce((n, e) => n + cpuSeconds(e.proc.pid!), 0) - envoyCpuBefore);
        const lat = [...proxies.map((p) => (p.acks.get(acked)?.version !== before.get(p) ? p.acks.get(acked)!.at - t0 : Infinity)), ...envoyLat];
        if (envoyLat.length) envoyLast.push(Math.max(...envoyLat));
        allLatencies.push(...lat);
        lastMs.push(Math.max(...lat));
        changeCpu.push(cpuSeconds(pid) - cpuBefore);
        const received = [...totalReceived(proxies)].map(([k, n]) => `${k} ${((n - (receivedBefore.get(k) ?? 0)) / proxies.length).toFixed(2)}`).join(', ');
        const applied = marks.find((m) => m.msg === 'config changed' && m.time >= t0Wall);
        if (applied) {
          appliedMs.push(applied.time - t0Wall);
          fromEvent.push(...lat.map((l) => l - (applied.time - t0Wall)));
        }
        const pushed = marks.find((m) => m.msg === 'push' && m.time >= t0Wall);
        info(`${label} ${c}: meshpilot applied it to the registry after ${applied ? `${applied.time - t0Wall} ms` : '?'}, its push loop over ${pushed?.affected ?? '?'} affected proxies ended after ${pushed ? `${pushed.time - t0Wall} ms` : '?'}`);
        info(`${label} ${c}: all ACKed ${done ? `after ${ms(Math.max(...lat))}` : 'NOT within 120 s'}; p50 ${ms(percentile(lat, 50))}, p99 ${ms(percentile(lat, 99))}${envoyLat.length ? `; Envoys saw it after ${envoyLat.map((l) => ms(l)).join(', ')}` : ''}; meshpilot CPU ${(changeCpu[changeCpu.length - 1] * 1000).toFixed(0)} ms, load client CPU ${(clientCpu[clientCpu.length - 1] * 1000).toFixed(0)} ms${envoys.length ? `, Envoys' CPU ${(envoyCpu[envoyCpu.length - 1] * 1000).toFixed(0)} ms` : ''}; ${kbPerProxy(proxies, acked)} KiB of ${acked} per proxy per push; responses per proxy: ${received}`);
        await sleep(1500);
      }
      const p99 = percentile(allLatencies, 99);
      const p99Event = fromEvent.length === allLatencies.length ? percentile(fromEvent, 99) : Infinity;
      info(`${label}s, over ${opts.changes}: p50 ${ms(percentile(allLatencies, 50))}, median of "last proxy" ${ms(median(lastMs))}${envoyLast.length ? `, median of "last Envoy" ${ms(median(envoyLast))}` : ''}, meshpilot CPU per change median ${(median(changeCpu) * 1000).toFixed(0)} ms (${((median(changeCpu) * 1000) / opts.proxies).toFixed(2)} ms per proxy), load client CPU median ${(median(clientCpu) * 1000).toFixed(0)} ms`);
      info(`${label}s from the file write (the file source noticing the write, waiting for it to settle and parsing it: median ${ms(median(appliedMs))}; then the 100 ms debounce): p50 ${ms(percentile(allLatencies, 50))}, p99 ${ms(p99)}`);
      report(`${label} (${opts.mode}) → every proxy ACKed / Envoy updated, p99 over proxies and changes, from meshpilot's config event (as Istio's pilot_proxy_convergence_time; 100 ms debounce included; meshpilot CPU ${(median(changeCpu) * 1000).toFixed(0)} ms per change)`, ms(p99Event), '≤ 500 ms (100 ms debounce + 400 ms)', p99Event <= 500);
    }
  } finally {
    for (const e of envoys) await e.stop();
    for (const p of proxies) p.close();
    proc.kill('SIGTERM');
    await Promise.race([new Promise((r) => proc.once('exit', r)), sleep(10_000)]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Responses received per type by all simulated proxies so far. */
function totalReceived(proxies: readonly SimulatedProxy[]): Map<ResourceKind, number> {
  const out = new Map<ResourceKind, number>();
  for (const p of proxies) for (const [k, n] of p.received) out.set(k, (out.get(k) ?? 0) + n);
  return out;
}

function kbPerProxy(proxies: readonly SimulatedProxy[], kind: ResourceKind): string {
  return (median(proxies.map((p) => p.acks.get(kind)?.bytes ?? 0)) / 1024).toFixed(1);
}
