/**
 * `meshpilot proxy-config KIND PROXY_ID`: the listeners, routes, clusters, endpoints or secrets a
 * running meshpilot last sent a connected proxy (private keys redacted by the admin API), read
 * from /debug/config_dump?proxyID=.
 */
import type { Command } from 'commander';
import type { NamedResource, ResourceKind } from '../translator/types.js';
import { fetchProxyConfig } from './explain.js';
import { DEFAULT_ADMIN_ADDRESS, renderTable } from './proxy-status.js';

const KINDS: readonly ResourceKind[] = ['listeners', 'routes', 'clusters', 'endpoints', 'secrets'];

type Value = Record<string, unknown>;
const obj = (v: unknown): Value => (v && typeof v === 'object' ? (v as Value) : {});
const list = (v: unknown): Value[] => (Array.isArray(v) ? (v as Value[]) : []);

function addressOf(a: unknown): string {
  const sa = obj(obj(a).socketAddress);
  if (sa.address !== undefined) return `${String(sa.address)}:${String(sa.portValue ?? '')}`;
  const pipe = obj(obj(a).pipe);
  return pipe.path ? `unix://${String(pipe.path)}` : '-';
}

/** A short table per kind, in the spirit of istioctl proxy-config. */
function shortTable(kind: ResourceKind, resources: NamedResource[]): string {
  switch (kind) {
    case 'listeners':
      return renderTable(['NAME', 'ADDRESS', 'FILTER CHAINS'], resources.map((r) => [r.name, addressOf(obj(r.value).address), String(list(obj(r.value).filterChains).length)]));
    case 'routes':
      return renderTable(['NAME', 'VIRTUAL HOST', 'DOMAINS', 'ROUTES'], resources.flatMap((r) => {
        const vhs = list(obj(r.value).virtualHosts);
        return vhs.length === 0 ? [[r.name, '-', '-', '0']] : vhs.map((vh) => [r.name, String(vh.name ?? ''), list(vh.domains).map(String).join(','), String(list(vh.routes).length)]);
      }));
    case 'clusters':
      return renderTable(['NAME', 'TYPE', 'EDS SERVICE'], resources.map((r) => {
        const v = obj(r.value);
        return [r.name, String(v.type ?? 'EDS'), String(obj(v.edsClusterConfig).serviceName ?? '-')];
      }));
    case 'endpoints':
      return renderTable(['ENDPOINT', 'CLUSTER', 'WEIGHT'], resources.flatMap((r) => list(obj(r.value).endpoints).flatMap((loc) => list(loc.lbEndpoints).map((lb) => [
        addressOf(obj(obj(lb.endpoint).address)), r.name, String(lb.loadBalancingWeight ?? 1),
      ]))));
    case 'secrets':
      return renderTable(['NAME', 'TYPE'], resources.map((r) => [r.name, Object.keys(obj(r.value)).filter((k) => k !== 'name').join(',') || '-']));
  }
}

export function registerProxyConfig(program: Command): void {
  program
    .command('proxy-config')
    .description('What a running meshpilot last sent a connected proxy: listeners, routes, clusters, endpoints or secrets')
    .argument('<kind>', KINDS.join('|'))
    .argument('<proxy-id>', 'the proxy\'s Envoy node id')
    .option('--admin-address <addr>', "the running meshpilot's admin address (HOST:PORT)", DEFAULT_ADMIN_ADDRESS)
    .option('--name <name>', 'only the resource with this name')
    .option('-o, --output <format>', 'short or json', 'short')
    .action(async (kindArg: string, proxyId: string, opts: { adminAddress: string; name?: string; output: string }) => {
      const kind = (KINDS as readonly string[]).includes(kindArg) ? (kindArg as ResourceKind) : KINDS.find((k) => k === `${kindArg}s`);
      if (!kind) throw new Error(`proxy-config ${kindArg}: expected one of ${KINDS.join(', ')}`);
      if (opts.output !== 'short' && opts.output !== 'json') throw new Error(`-o ${opts.output}: expected short or json`);
      const all = await fetchProxyConfig(opts.adminAddress, proxyId);
      const resources = all[kind].filter((r) => !opts.name || r.name === opts.name);
      if (opts.name && resources.length === 0) throw new Error(`proxy ${proxyId} has no ${kind} named ${opts.name}`);
      if (opts.output === 'json') process.stdout.write(JSON.stringify(resources.map((r) => r.value), null, 2) + '\n');
      else process.stdout.write(shortTable(kind, resources));
    });
}
