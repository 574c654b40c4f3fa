/**
 * `meshpilot proxy-status`: every proxy connected to a running meshpilot and, per xDS type,
 * whether it is SYNCED, NOT SENT, STALE or NACKED (as istioctl proxy-status shows them), read from
 * the admin API's /debug/syncz.
 */
import type { Command } from 'commander';
import { request as httpRequest } from 'node:http';
import { syncStateOf, type ProxySyncStatus, type SyncState } from '../xds/connection.js';

export const DEFAULT_ADMIN_ADDRESS = '127.0.0.1:15014';

/** GETs a JSON document from a running meshpilot's admin address; errors name the URL. */
export function getAdminJson<T>(server: string, path: string): Promise<T> {
  const base = /^https?:\/\//.test(server) ? server : `http://${server}`;
  const url = `${base}${path}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let parsed: unknown;
        try { parsed = JSON.parse(body); } catch { return reject(new Error(`${url}: answer is not JSON (HTTP ${res.statusCode})`)); }
        if (res.statusCode !== 200) return reject(new Error(`${url}: HTTP ${res.statusCode}: ${(parsed as { error?: string }).error ?? body}`));
        resolve(parsed as T);
      });
    });
    req.on('error', (err) => reject(new Error(`${url}: ${err.message}`)));
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out after 10 s`)));
    req.end();
  });
}

/** Column → resource kind, in istioctl's order. */
const COLUMNS = [['CDS', 'clusters'], ['LDS', 'listeners'], ['EDS', 'endpoints'], ['RDS', 'routes'], ['SDS', 'secrets']] as const;

export interface ProxyStatusRow {
  name: string;
  protocol: string;
  status: Record<(typeof COLUMNS)[number][0], SyncState>;
  /** Resources the proxy rejected, per kind (when Envoy's error named them). */
  nacked: Record<string, string[]>;
}

export function proxyStatusRows(syncz: ProxySyncStatus[]): ProxyStatusRow[] {
  return syncz.map((p) => {
    const status = Object.fromEntries(COLUMNS.map(([col, kind]) => [col, syncStateOf(p.types[kind])])) as ProxyStatusRow['status'];
    const nacked: Record<string, string[]> = {};
    for (const [kind, t] of Object.entries(p.types)) if (t?.nackedResources?.length) nacked[kind] = t.nackedResources.map((r) => r.name);
    return { name: p.id, protocol: p.protocol === 'delta' ? 'Delta' : 'SotW', status, nacked };
  });
}

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function registerProxyStatus(program: Command): void {
  program
    .command('proxy-status')
    .description('Every proxy connected to a running meshpilot, per xDS type: SYNCED, NOT SENT, STALE or NACKED')
    .argument('[proxy-id]', 'only this proxy')
    .option('--admin-address <addr>', "the running meshpilot's admin address (HOST:PORT)", DEFAULT_ADMIN_ADDRESS)
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (proxyId: string | undefined, opts: { adminAddress: string; output: string }) => {
      if (opts.output !== 'table' && opts.output !== 'json') throw new Error(`-o ${opts.output}: expected table or json`);
      const syncz = await getAdminJson<ProxySyncStatus[]>(opts.adminAddress, '/debug/syncz');
      if (!Array.isArray(syncz)) throw new Error(`${opts.adminAddress}/debug/syncz: expected a list of proxies`);
      let rows = proxyStatusRows(syncz);
      if (proxyId) {
        rows = rows.filter((r) => r.name === proxyId);
        if (rows.length === 0) throw new Error(`proxy ${proxyId} is not connected to meshpilot at ${opts.adminAddress}`);
      }
      if (opts.output === 'json') {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      process.stdout.write(renderTable(['NAME', 'XDS', ...COLUMNS.map(([c]) => c)], rows.map((r) => [r.name, r.protocol, ...COLUMNS.map(([c]) => r.status[c])])));
      for (const r of rows) for (const [kind, names] of Object.entries(r.nacked)) process.stdout.write(`${r.name}: ${kind} rejected: ${names.join(', ')}\n`);
    });
}
