import type { Command } from 'commander';
import { stringify } from 'yaml';
import { parseNodeId } from '../proxy/node.js';
import { snapshotFromObjects } from '../registry/snapshot.js';
import { translate } from '../translator/index.js';
import type { XdsResources } from '../translator/types.js';
import { collect, loadConfigDir, parseLabels } from './config-dir.js';

/** Replaces private keys (and any inline bytes under a key named privateKey) with a marker. */
export function redactSecrets(resources: XdsResources): XdsResources {
  const redact = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(redact);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = k === 'privateKey' ? { inlineString: '[redacted]' } : redact(x);
      return out;
    }
    return v;
  };
  return { ...resources, secrets: resources.secrets.map((s) => ({ name: s.name, value: redact(s.value) as Record<string, unknown> })) };
}

/** A Kubernetes Secret with every value of `data`/`stringData` replaced by a marker (keys kept). */
export function redactSecretData<T extends { kind: string }>(secret: T): T {
  const o = secret as unknown as { data?: Record<string, string>; stringData?: Record<string, string> };
  const hide = (m?: Record<string, string>) => (m ? Object.fromEntries(Object.keys(m).map((k) => [k, '[redacted]'])) : undefined);
  return { ...secret, ...(o.data ? { data: hide(o.data) } : {}), ...(o.stringData ? { stringData: hide(o.stringData) } : {}) };
}

export function registerTranslate(program: Command): void {
  program
    .command('translate')
    .description('Print the xDS resources a proxy would receive, offline and deterministically')
    .requiredOption('--config-dir <dir>', 'folder of YAML config (repeatable)', collect)
    .requiredOption('--node-id <id>', 'Envoy node id, e.g. router~10.0.0.1~gw-abc.istio-system~istio-system.svc.cluster.local')
    .option('--label <k=v>', 'workload label (repeatable)', collect)
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .action(async (opts: { configDir: string[]; nodeId: string; label?: string[]; output: string }) => {
      if (opts.output !== 'yaml' && opts.output !== 'json') throw new Error(`-o ${opts.output}: expected yaml or json`);
      const labels = parseLabels(opts.label);
      const node = parseNodeId(opts.nodeId, { LABELS: labels });
      if (!node.ok) throw new Error(node.error);
      const { objects, problems } = await loadConfigDir(opts.configDir);
      for (const p of problems) process.stderr.write(`skipped invalid: ${p}\n`);
      const out = redactSecrets(translate(snapshotFromObjects(objects), node.value));
      process.stdout.write(opts.output === 'json' ? JSON.stringify(out, null, 2) + '\n' : stringify(out, { sortMapEntries: false }));
    });
}
