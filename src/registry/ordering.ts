/**
 * Istio's configuration order: oldest creationTimestamp first, then name, then namespace (the
 * tie-break Istio uses when timestamps, kept in whole seconds, are equal). Objects without a
 * timestamp (file mode) count as oldest.
 */
interface Meta { metadata: { name: string; namespace: string; creationTimestamp?: string } }

function creationMillis(o: Meta): number {
  const t = o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : Number.NaN;
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareByCreation(a: Meta, b: Meta): number {
  const ta = creationMillis(a);
  const tb = creationMillis(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return compareStrings(a.metadata.name, b.metadata.name) || compareStrings(a.metadata.namespace, b.metadata.namespace);
}

export function compareByNamespacedName(a: Meta, b: Meta): number {
  return compareStrings(a.metadata.namespace, b.metadata.namespace) || compareStrings(a.metadata.name, b.metadata.name);
}
