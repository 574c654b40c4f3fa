/** An explanation as text for people. */
import type { Explanation } from './http.js';

export function renderExplanation(e: Explanation): string {
  const r = e.request;
  const lines = [`${r.method} ${r.scheme}://${r.authority}${r.path}${r.query.length ? `?${new URLSearchParams(r.query).toString()}` : ''} through ${e.proxy.type === 'router' ? 'gateway' : 'sidecar'} ${e.proxy.id}`];
  const row = (k: string, v: string | undefined) => { if (v !== undefined) lines.push(`  ${k.padEnd(20)} ${v}`); };
  row('listener', e.listener ? `${e.listener.name} (filter chain ${e.listener.filterChain})` : undefined);
  row('route configuration', e.routeConfiguration);
  row('virtual host', e.virtualHost ? `${e.virtualHost.name} (domain "${e.virtualHost.domain}")` : undefined);
  row('route', e.route ? `#${e.route.index}${e.route.name ? ` "${e.route.name}"` : ''}` : undefined);
  row('from', e.virtualService);
  for (const p of e.route?.policies ?? []) row('policy', p);
  const o = e.outcome;
  if (o.kind === 'route' || o.kind === 'tcp') {
    for (const c of o.clusters) {
      row('cluster', `${c.name} ${c.percent}%${c.problem ? ` — ${c.problem}` : ''}`);
      for (const ep of c.endpoints) row('  endpoint', `${ep.address}${ep.port !== undefined ? `:${ep.port}` : ''} ${ep.health}${ep.locality ? ` ${ep.locality}` : ''} weight ${ep.weight}`);
    }
  } else if (o.kind === 'redirect') row('answer', `${o.status} → ${o.location}`);
  else if (o.kind === 'direct-response') row('answer', `${o.status}${o.body !== undefined ? ` "${o.body}"` : ''}`);
  else row('answer', `${o.status ?? 'connection refused/closed'}: ${o.reason}`);
  lines.push('why:');
  for (const s of e.steps) lines.push(`  - ${s}`);
  if (e.rejectedRoutes.length) {
    lines.push('routes tried before:');
    for (const rr of e.rejectedRoutes) lines.push(`  #${rr.index}${rr.name ? ` "${rr.name}"` : ''}: ${rr.failed.join('; ')}`);
  }
  return lines.join('\n') + '\n';
}
