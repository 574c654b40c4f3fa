import type { Command } from 'commander';
import { explainRequest } from '../explain/http.js';
import { renderExplanation } from '../explain/render.js';
import { parseRequest } from '../explain/request.js';
import { parseNodeId } from '../proxy/node.js';
import { snapshotFromObjects } from '../registry/snapshot.js';
import { translate } from '../translator/index.js';
import { RESOURCE_KINDS, type XdsResources } from '../translator/types.js';
import { collect, loadConfigDir, parseLabels } from './config-dir.js';
import { getAdminJson } from './proxy-status.js';

/** What a running meshpilot last sent the proxy: its admin /debug/config_dump?proxyID=ID. */
export async function fetchProxyConfig(server: string, proxyId: string): Promise<XdsResources> {
  const path = `/debug/config_dump?proxyID=${encodeURIComponent(proxyId)}`;
  const r = await getAdminJson<Partial<XdsResources>>(server, path);
  if (!RESOURCE_KINDS.every((k) => Array.isArray(r[k]))) throw new Error(`${server}${path}: expected {listeners, routes, clusters, endpoints, secrets}`);
  return r as XdsResources;
}

interface ExplainOptions { configDir?: string[]; server?: string; nodeId: string; label?: string[]; address?: string; output: string }

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('Explain where a request goes through a proxy: listener, route configuration, virtual host, route, VirtualService, clusters, endpoints, and why')
    .argument('<request...>', "[METHOD] URL [-H name:value]..., e.g. GET http://reviews:9080/x -H end-user:jason (put it after --)")
    .option('--config-dir <dir>', 'translate this config folder (repeatable)', collect)
    .option('--server <addr>', "ask a running meshpilot's admin address (HOST:PORT) what it sent the proxy")
    .requiredOption('--node-id <id>', 'Envoy node id of the proxy, e.g. router~10.0.0.1~gw-abc.istio-system~istio-system.svc.cluster.local')
    .option('--label <k=v>', 'workload label (repeatable; config-dir mode)', collect)
    .option('--address <ip>', 'destination IP of the connection (sidecar: the service VIP; gateway: the bound address)')
    .option('-o, --output <format>', 'text or json', 'text')
    // The request's own -H flags are not meshpilot options: they reach the request argument in order.
    .allowUnknownOption(true)
    .action(async (tokens: string[], opts: ExplainOptions) => {
      if (opts.output !== 'text' && opts.output !== 'json') throw new Error(`-o ${opts.output}: expected text or json`);
      if (!!opts.configDir === !!opts.server) throw new Error('explain needs exactly one of --config-dir DIR or --server ADDR');
      const req = parseRequest(tokens);
      if (!req.ok) throw new Error(req.error);
      const node = parseNodeId(opts.nodeId, { LABELS: parseLabels(opts.label) });
      if (!node.ok) throw new Error(node.error);
      let resources: XdsResources;
      if (opts.server) resources = await fetchProxyConfig(opts.server, opts.nodeId);
      else {
        const { objects, problems } = await loadConfigDir(opts.configDir!);
        for (const p of problems) process.stderr.write(`skipped invalid: ${p}\n`);
        resources = translate(snapshotFromObjects(objects), node.value);
      }
      const e = explainRequest({ proxy: { id: node.value.id, type: node.value.type }, resources, request: req.value, address: opts.address });
      process.stdout.write(opts.output === 'json' ? JSON.stringify(e, null, 2) + '\n' : renderExplanation(e));
    });
}
