import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { buildBootstrap, buildGrpcBootstrap } from '../proxy/bootstrap.js';
import { parseNodeId } from '../proxy/node.js';
import { collect, parseLabels } from './config-dir.js';

export function registerBootstrap(program: Command): void {
  program
    .command('bootstrap')
    .description('Write an Envoy bootstrap (or, with --grpc, a gRPC xDS bootstrap) that connects a proxy to meshpilot over ADS')
    .requiredOption('--node-id <id>', 'sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local or router~...')
    .option('--label <k=v>', 'workload label (repeatable)', collect)
    .option('--xds-address <addr>', 'meshpilot ADS address, HOST:PORT or unix:///PATH', '127.0.0.1:15010')
    .option('--admin-address <addr>', "Envoy's admin address", '127.0.0.1:15000')
    .option('--xds-ca <file>', 'secure xDS: speak TLS to the xDS address and trust this CA (PEM)')
    .option('--xds-server-name <name>', 'secure xDS: SNI sent and SAN required in the server certificate')
    .option('--xds-token-file <file>', 'secure xDS: send the token in FILE as "authorization: Bearer"')
    .option('--grpc', 'write a gRPC xDS bootstrap for a proxyless gRPC client (use it as GRPC_XDS_BOOTSTRAP)')
    .option('--delta', 'use incremental (Delta) xDS instead of State of the World')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .action((opts: { nodeId: string; label?: string[]; xdsAddress: string; adminAddress: string; grpc?: boolean; output?: string; xdsCa?: string; xdsServerName?: string; xdsTokenFile?: string; delta?: boolean }) => {
      const labels = parseLabels(opts.label);
      const parsed = parseNodeId(opts.nodeId, { LABELS: labels });
      if (!parsed.ok) throw new Error(parsed.error);
      const common = { nodeId: opts.nodeId, labels, namespace: parsed.value.namespace, xdsAddress: opts.xdsAddress };
      if (opts.grpc && (opts.xdsCa || opts.xdsTokenFile)) throw new Error('--grpc: secure xDS options are not supported for proxyless gRPC bootstraps yet');
      const xdsToken = opts.xdsTokenFile ? readFileSync(opts.xdsTokenFile, 'utf8').trim() : undefined;
      const bootstrap = opts.grpc ? buildGrpcBootstrap(common) : buildBootstrap({
        ...common, adminAddress: opts.adminAddress, xdsCaFile: opts.xdsCa, xdsServerName: opts.xdsServerName, xdsToken, delta: opts.delta,
      });
      const text = JSON.stringify(bootstrap, null, 2) + '\n';
      if (opts.output) writeFileSync(opts.output, text);
      else process.stdout.write(text);
    });
}
