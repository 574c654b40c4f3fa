/**
 * Envoy as the judge: turns translator output into a static bootstrap (routes inlined into their
 * listeners, EDS clusters given their ClusterLoadAssignment, SDS secrets made static), encodes it
 * as a binary protobuf and runs `envoy --mode validate` on it. Envoy's verdict is the test.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { XdsResources } from '../../src/translator/types.js';
import { encodeMessage } from '../../src/xds/encode.js';
import { envoyRoot } from '../../src/xds/protos.js';
import { envoyBinary } from './envoy.js';

type Obj = Record<string, unknown>;

function rewrite(v: unknown, routes: Map<string, Obj>): unknown {
  if (Array.isArray(v)) return v.map((x) => rewrite(x, routes));
  if (!v || typeof v !== 'object') return v;
  const o = v as Obj;
  const out: Obj = {};
  for (const [k, x] of Object.entries(o)) out[k] = rewrite(x, routes);
  // HCM with RDS → inline route configuration.
  if (out.rds && typeof out.rds === 'object') {
    const name = (out.rds as { routeConfigName?: string }).routeConfigName ?? '';
    delete out.rds;
    out.routeConfig = routes.get(name) ?? { name, virtualHosts: [] };
  }
  // SDS over ADS → static secrets from the bootstrap.
  if (typeof out.name === 'string' && out.sdsConfig) delete out.sdsConfig;
  return out;
}

/** The static bootstrap (protobufjs object form) equivalent to what a proxy would receive over xDS. */
export function staticBootstrap(res: XdsResources): Obj {
  const routes = new Map(res.routes.map((r) => [r.name, r.value]));
  const clas = new Map(res.endpoints.map((e) => [e.name, e.value]));
  const clusters = res.clusters.map((c) => {
    const v = rewrite(c.value, routes) as Obj;
    if (v.type === 'EDS') {
      const svc = (v.edsClusterConfig as { serviceName?: string } | undefined)?.serviceName ?? c.name;
      delete v.edsClusterConfig;
      v.type = 'STATIC';
      v.loadAssignment = clas.get(svc) ?? { clusterName: c.name };
    }
    return v;
  });
  return {
    node: { id: 'validate~127.0.0.1~v.default~default.svc.cluster.local', cluster: 'validate' },
    staticResources: {
      listeners: res.listeners.map((l) => rewrite(l.value, routes)),
      clusters,
      secrets: res.secrets.map((s) => s.value),
    },
  };
}

let loaded = false;
function ensureBootstrapProto(): void {
  if (loaded) return;
  envoyRoot().loadSync('envoy/config/bootstrap/v3/bootstrap.proto', { keepCase: false });
  envoyRoot().resolveAll();
  loaded = true;
}

export interface Verdict { ok: boolean; output: string }

/** Runs `envoy --mode validate` on the resources; bounded to 30 s. */
export async function envoyValidate(res: XdsResources): Promise<Verdict> {
  ensureBootstrapProto();
  const bytes = encodeMessage('envoy.config.bootstrap.v3.Bootstrap', staticBootstrap(res), 'bootstrap');
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-judge-'));
  const file = join(dir, 'bootstrap.pb');
  writeFileSync(file, bytes);
  try {
    return await new Promise<Verdict>((resolve) => {
      const p = spawn(envoyBinary(), ['--mode', 'validate', '-c', file, '-l', 'error', '--disable-hot-restart', '--concurrency', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      p.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      p.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
      p.on('close', (code) => { clearTimeout(t); resolve({ ok: code === 0, output }); });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
