import type { Command } from 'commander';
import { diffResources, isEmptyDiff, type ResourcesDiff } from '../explain/diff.js';
import { impliedProxies } from '../explain/proxies.js';
import { parseNodeId, type ProxyInfo } from '../proxy/node.js';
import { snapshotFromObjects } from '../registry/snapshot.js';
import { translate } from '../translator/index.js';
import { collect, loadConfigDir, parseLabels } from './config-dir.js';
import { redactSecrets } from './translate.js';

export interface ProxyDiff {
  id: string;
  type: ProxyInfo['type'];
  labels: Record<string, string>;
  changed: boolean;
  types: ResourcesDiff;
}

function abbreviate(v: unknown): string {
  const text = JSON.stringify(v);
  return text.length <= 100 ? text : `${text.slice(0, 97)}...`;
}

function renderDiffs(diffs: readonly ProxyDiff[]): string {
  const lines: string[] = [];
  const changed = diffs.filter((d) => d.changed);
  for (const d of changed) {
    const labels = Object.entries(d.labels).map(([k, v]) => `${k}=${v}`).join(',');
    lines.push(`${d.id} (${d.type === 'router' ? 'gateway' : 'sidecar'}${labels ? `, ${labels}` : ''})`);
    for (const [kind, t] of Object.entries(d.types)) {
      for (const n of t.added) lines.push(`  ${kind}: + ${n}`);
      for (const n of t.removed) lines.push(`  ${kind}: - ${n}`);
      for (const c of t.changed) {
        lines.push(`  ${kind}: ~ ${c.name}`);
        for (const f of c.changes) {
          const from = 'from' in f ? abbreviate(f.from) : '(none)';
          const to = 'to' in f ? abbreviate(f.to) : '(none)';
          lines.push(`      ${f.path}: ${from} -> ${to}`);
        }
        if (c.more) lines.push(`      ... ${c.more} more`);
      }
    }
  }
  const same = diffs.length - changed.length;
  lines.push(`${changed.length} of ${diffs.length} proxies would change${same ? `; unchanged: ${diffs.filter((d) => !d.changed).map((d) => d.id).join(', ')}` : ''}`);
  return lines.join('\n') + '\n';
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description("Which proxies' xDS would change between two config folders, and how")
    .requiredOption('--from <dir>', 'config folder before (repeatable)', collect)
    .requiredOption('--to <dir>', 'config folder after (repeatable)', collect)
    .option('--node-id <id>', 'only these proxies (repeatable); default: one gateway per Gateway selector, one sidecar per workload and namespace', collect)
    .option('--label <k=v>', 'workload label for the --node-id proxies (repeatable)', collect)
    .option('--exit-code', 'exit 1 when some proxy would change (like git diff --exit-code)')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { from: string[]; to: string[]; nodeId?: string[]; label?: string[]; exitCode?: boolean; output: string }) => {
      if (opts.output !== 'text' && opts.output !== 'json') throw new Error(`-o ${opts.output}: expected text or json`);
      const [a, b] = [await loadConfigDir(opts.from), await loadConfigDir(opts.to)];
      for (const p of a.problems) process.stderr.write(`skipped invalid (--from): ${p}\n`);
      for (const p of b.problems) process.stderr.write(`skipped invalid (--to): ${p}\n`);
      let proxies: ProxyInfo[];
      if (opts.nodeId?.length) {
        const labels = parseLabels(opts.label);
        proxies = opts.nodeId.map((id) => {
          const p = parseNodeId(id, { LABELS: labels });
          if (!p.ok) throw new Error(p.error);
          return p.value;
        });
      } else {
        const seen = new Map<string, ProxyInfo>();
        for (const p of [...impliedProxies(a.objects), ...impliedProxies(b.objects)]) if (!seen.has(p.id)) seen.set(p.id, p);
        proxies = [...seen.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      }
      const [sa, sb] = [snapshotFromObjects(a.objects), snapshotFromObjects(b.objects)];
      const diffs: ProxyDiff[] = proxies.map((p) => {
        const types = diffResources(redactSecrets(translate(sa, p)), redactSecrets(translate(sb, p)));
        return { id: p.id, type: p.type, labels: p.labels, changed: !isEmptyDiff(types), types };
      });
      process.stdout.write(opts.output === 'json' ? JSON.stringify({ proxies: diffs }, null, 2) + '\n' : renderDiffs(diffs));
      if (opts.exitCode && diffs.some((d) => d.changed)) process.exitCode = 1;
    });
}
