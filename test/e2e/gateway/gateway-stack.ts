/** meshpilot serving a config folder + one real gateway Envoy fed by it, stopped with a no-NACK check. */
import assert from 'node:assert/strict';
import { buildBootstrap } from '../../../src/proxy/bootstrap.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { type ConfigDir, GATEWAY_LABELS, GATEWAY_NODE, nacksIn } from './fixture.js';

export type Syncz = Array<{ id: string; types: Record<string, { lastNack?: unknown; versionAcked?: string }> }>;

export interface GatewayStack {
  mp: MeshpilotProcess;
  envoy: EnvoyProcess;
  /** Asserts that no proxy NACKed anything, then stops Envoy and meshpilot and removes the folder. */
  stop(): Promise<void>;
}

/** With `delta`, the gateway speaks Delta xDS (DeltaAggregatedResources) instead of State of the World. */
export async function startGatewayStack(cfg: ConfigDir, opts: { delta?: boolean; extraLabels?: Record<string, string> } = {}): Promise<GatewayStack> {
  const mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
  const labels = { ...GATEWAY_LABELS, ...opts.extraLabels };
  const start = async () => opts.delta
    ? startEnvoy({ bootstrap: buildBootstrap({ nodeId: GATEWAY_NODE, labels, xdsAddress: mp.xdsAddress, adminAddress: `127.0.0.1:${await freePort()}`, delta: true }), name: 'delta-gateway' })
    : startEnvoy({ nodeId: GATEWAY_NODE, labels, xdsAddress: mp.xdsAddress });
  const envoy = await start().catch(async (err: unknown) => { await mp.stop(); throw err; });
  return {
    mp,
    envoy,
    async stop() {
      try {
        assert.deepEqual(nacksIn(await mp.getJson<Syncz>('/debug/syncz')), [], 'no NACK');
      } finally {
        await envoy.stop();
        await mp.stop();
        cfg.remove();
      }
    },
  };
}
