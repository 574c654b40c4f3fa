import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { buildBootstrap } from '../proxy/bootstrap.js';
import { parseNodeId } from '../proxy/node.js';
import { collect, parseLabels } from './config-dir.js';

export function registerBootstrap(program: Command): void {
  program
    .command('bootstrap')
    .description('Write an Envoy bootstrap that connects a proxy to meshpilot over ADS')
    .requiredOption('--node-id <id>', 'sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local or router~...')
    .option('--label <k=v>', 'workload label (repeatable)', collect)
    .option('--xds-address <addr>', 'meshpilot ADS address, HOST:PORT or unix:///PATH', '127.0.0.1:15010')
    .option('--admin-address <addr>', "Envoy's admin address", '127.0.0.1:15000')
    .option('--xds-ca <file>', 'secure xDS: speak TLS to the xDS address and trust this CA (PEM)')
    .option('--xds-server-name <name>', 'secure xDS: SNI sent and SAN required in the server certificate')
    .option('--xds-token-file <file>', 'secure xDS: send the token in FILE as "authorization: Bearer"')
    .option('--delta', 'use incremental (Delta) xDS instead of State of the World')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .action((opts: { nodeId: string; label?: string[]; xdsAddress: string; adminAddress: string; output?: string; xdsCa?: string; xdsServerName?: string; xdsTokenFile?: string; delta?: boolean }) => {
      const labels = parseLabels(opts.label);
      const parsed = parseNodeId(opts.nodeId, { LABELS: labels });
      if (!parsed.ok) throw new Error(parsed.error);
      const xdsToken = opts.xdsTokenFile ? readFileSync(opts.xdsTokenFile, 'utf8').trim() : undefined;
      const text = JSON.stringify(buildBootstrap({
        nodeId: opts.nodeId, labels, namespace: parsed.value.namespace, xdsAddress: opts.xdsAddress, adminAddress: opts.adminAddress,
        xdsCaFile: opts.xdsCa, xdsServerName: opts.xdsServerName, xdsToken, delta: opts.delta,
      }), null, 2) + '\n';
      if (opts.output) writeFileSync(opts.output, text);
      else process.stdout.write(text);
    });
}
