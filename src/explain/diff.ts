/**
 * `meshpilot diff`: how one proxy's xDS changes between two configurations, per resource type:
 * names added and removed, and for changed resources a compact list of the fields that differ.
 */
import { RESOURCE_KINDS, type NamedResource, type ResourceKind, type XdsResources } from '../translator/types.js';

export interface FieldChange {
  /** Field path inside the resource, e.g. virtualHosts[0].routes[1].route.cluster */
  path: string;
  from?: unknown;
  to?: unknown;
}

export interface ChangedResource {
  name: string;
  changes: FieldChange[];
  /** Changes beyond the reported ones. */
  more: number;
}

export interface TypeDiff {
  added: string[];
  removed: string[];
  changed: ChangedResource[];
}

export type ResourcesDiff = Partial<Record<ResourceKind, TypeDiff>>;

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Values are reported whole (the JSON output is for tools); the text renderer abbreviates. */
const brief = (v: unknown): unknown => v;

function elementKey(v: unknown): string | undefined {
  return isObject(v) && typeof v.name === 'string' ? v.name : undefined;
}

/**
 * Field-level differences of two JSON values. Arrays whose elements all have distinct names are
 * compared by name (so an insertion is one change, not a shifted tail); others by index.
 */
export function diffJson(a: unknown, b: unknown, path = '', out: FieldChange[] = []): FieldChange[] {
  if (Object.is(a, b)) return out;
  if (Array.isArray(a) && Array.isArray(b)) {
    const ka = a.map(elementKey);
    const kb = b.map(elementKey);
    const named = [...ka, ...kb].every((k) => k !== undefined) && new Set(ka).size === ka.length && new Set(kb).size === kb.length;
    if (named) {
      const byA = new Map(a.map((v, i) => [ka[i]!, v]));
      const byB = new Map(b.map((v, i) => [kb[i]!, v]));
      for (const [k, v] of byA) {
        if (!byB.has(k)) out.push({ path: `${path}[${k}]`, from: brief(v) });
        else diffJson(v, byB.get(k), `${path}[${k}]`, out);
      }
      for (const [k, v] of byB) if (!byA.has(k)) out.push({ path: `${path}[${k}]`, to: brief(v) });
      const order = (ks: Array<string | undefined>, other: Map<string, unknown>) => ks.filter((k) => other.has(k!)).join('\u0000');
      if (order(ka, byB) !== order(kb, byA)) out.push({ path: `${path}[*]`, from: `order ${ka.join(', ')}`, to: `order ${kb.join(', ')}` });
      return out;
    }
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (i >= a.length) out.push({ path: `${path}[${i}]`, to: brief(b[i]) });
      else if (i >= b.length) out.push({ path: `${path}[${i}]`, from: brief(a[i]) });
      else diffJson(a[i], b[i], `${path}[${i}]`, out);
    }
    return out;
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in b)) out.push({ path: p, from: brief(a[k]) });
      else if (!(k in a)) out.push({ path: p, to: brief(b[k]) });
      else diffJson(a[k], b[k], p, out);
    }
    return out;
  }
  out.push({ path: path || '.', from: brief(a), to: brief(b) });
  return out;
}

/** Differences between two sets of resources of one proxy; types without changes are left out. */
export function diffResources(from: XdsResources, to: XdsResources, maxChangesPerResource = 20): ResourcesDiff {
  const out: ResourcesDiff = {};
  for (const kind of RESOURCE_KINDS) {
    const a = new Map(from[kind].map((r: NamedResource) => [r.name, r.value]));
    const b = new Map(to[kind].map((r: NamedResource) => [r.name, r.value]));
    const added = [...b.keys()].filter((n) => !a.has(n)).sort();
    const removed = [...a.keys()].filter((n) => !b.has(n)).sort();
    const changed: ChangedResource[] = [];
    for (const [name, va] of [...a.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
      const vb = b.get(name);
      if (vb === undefined) continue;
      const changes = diffJson(va, vb);
      if (changes.length) changed.push({ name, changes: changes.slice(0, maxChangesPerResource), more: Math.max(0, changes.length - maxChangesPerResource) });
    }
    if (added.length || removed.length || changed.length) out[kind] = { added, removed, changed };
  }
  return out;
}

export function isEmptyDiff(d: ResourcesDiff): boolean {
  return Object.keys(d).length === 0;
}
