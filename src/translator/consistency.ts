/** Cross-resource checks: every RDS/EDS/SDS name that one resource references exists. */
import type { XdsResources } from './types.js';

function collect(v: unknown, visit: (o: Record<string, unknown>) => void): void {
  if (Array.isArray(v)) v.forEach((x) => collect(x, visit));
  else if (v && typeof v === 'object') {
    visit(v as Record<string, unknown>);
    Object.values(v).forEach((x) => collect(x, visit));
  }
}

export function checkConsistency(res: XdsResources): string[] {
  const problems: string[] = [];
  const routes = new Set(res.routes.map((r) => r.name));
  const clas = new Set(res.endpoints.map((e) => e.name));
  const secrets = new Set(res.secrets.map((s) => s.name));
  for (const l of res.listeners) collect(l.value, (o) => {
    if (typeof o.routeConfigName === 'string' && !routes.has(o.routeConfigName)) problems.push(`listener ${l.name} references missing route configuration ${o.routeConfigName}`);
    if (o.sdsConfig && typeof o.name === 'string' && !secrets.has(o.name)) problems.push(`listener ${l.name} references missing secret ${o.name}`);
  });
  for (const c of res.clusters) {
    if (c.value.type === 'EDS') {
      const svc = (c.value.edsClusterConfig as { serviceName?: string } | undefined)?.serviceName ?? c.name;
      if (!clas.has(svc)) problems.push(`cluster ${c.name} has no ClusterLoadAssignment ${svc}`);
    }
  }
  return problems;
}
