/** meshpilot serving a config folder + one real gateway Envoy fed by it, stopped with a no-NACK check. */
import assert from 'node:assert/strict';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { type ConfigDir, GATEWAY_LABELS, GATEWAY_NODE, nacksIn } from './fixture.js';

export type Syncz = Array<{ id: string; types: Record<string, { lastNack?: unknown; versionAcked?: string }> }>;

export interface GatewayStack {
  mp: MeshpilotProcess;
  envoy: EnvoyProcess;
  /** Asserts that no proxy NACKed anything, then stops Envoy and meshpilot and removes the folder. */
  stop(): Promise<void>;
}

export async function startGatewayStack(cfg: ConfigDir): Promise<GatewayStack> {
  const mp = await startMeshpilot({ configDir: cfg.dir, debounceMs: 50 });
  const envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress }).catch(async (err: unknown) => { await mp.stop(); throw err; });
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
