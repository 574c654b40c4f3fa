/**
 * The proxies a configuration implies, for `meshpilot diff` when no node id is given: one gateway
 * per distinct Gateway selector (in the Gateway's namespace), one sidecar per workload (distinct
 * Pod labels in a namespace, or a Sidecar's workloadSelector) and one plain sidecar per namespace.
 */
import type { Resource } from '../api/index.js';
import { parseNodeId, type ProxyInfo } from '../proxy/node.js';
import { compareStrings } from '../translator/ordering.js';

interface Meta { name?: string; namespace?: string; labels?: Record<string, string> }

const labelKey = (l: Record<string, string>) => Object.entries(l).sort(([a], [b]) => compareStrings(a, b)).map(([k, v]) => `${k}=${v}`).join(',');
const slug = (s: string) => s.replace(/[^a-z0-9-]+/gi, '-').replace(/^-+|-+$/g, '').toLowerCase() || 'x';

function proxy(id: string, labels: Record<string, string>): ProxyInfo {
  const p = parseNodeId(id, { LABELS: labels });
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

export function impliedProxies(objects: readonly Resource[], domainSuffix = 'cluster.local'): ProxyInfo[] {
  const out = new Map<string, ProxyInfo>();
  const namespaces = new Set<string>();
  const add = (p: ProxyInfo) => { if (!out.has(p.id)) out.set(p.id, p); };
  for (const o of objects) {
    const meta = (o as { metadata?: Meta }).metadata ?? {};
    const ns = meta.namespace ?? 'default';
    const spec = (o as { spec?: Record<string, unknown> }).spec ?? {};
    switch (o.kind) {
      case 'Gateway': {
        const sel = (spec.selector as Record<string, string> | undefined) ?? {};
        const name = `gateway-${slug(labelKey(sel))}`;
        add(proxy(`router~192.0.2.1~${name}.${ns}~${ns}.svc.${domainSuffix}`, sel));
        break;
      }
      case 'Pod': {
        const labels = meta.labels ?? {};
        const ip = (o as { status?: { podIP?: string } }).status?.podIP ?? '127.0.0.1';
        const key = `${ns}|${labelKey(labels)}`;
        if (![...out.values()].some((p) => p.type === 'sidecar' && `${p.namespace}|${labelKey(p.labels)}` === key)) {
          add(proxy(`sidecar~${ip}~${meta.name ?? 'pod'}.${ns}~${ns}.svc.${domainSuffix}`, labels));
        }
        namespaces.add(ns);
        break;
      }
      case 'Sidecar': {
        const labels = (spec.workloadSelector as { labels?: Record<string, string> } | undefined)?.labels;
        if (labels) add(proxy(`sidecar~192.0.2.1~${slug(labelKey(labels))}.${ns}~${ns}.svc.${domainSuffix}`, labels));
        namespaces.add(ns);
        break;
      }
      case 'Secret':
        break;
      default:
        namespaces.add(ns);
    }
  }
  for (const ns of namespaces) add(proxy(`sidecar~192.0.2.1~workload.${ns}~${ns}.svc.${domainSuffix}`, {}));
  return [...out.values()].sort((a, b) => compareStrings(a.id, b.id));
}
