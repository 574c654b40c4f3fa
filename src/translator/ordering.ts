/**
 * Deterministic ordering: plain UTF-16 code-unit comparison (never localeCompare, whose result
 * depends on the ICU data of the Node build), so that equal inputs give byte-equal output everywhere.
 */
import { compareStrings } from '../registry/ordering.js';

export { compareStrings };

export function byName<T extends { name: string }>(a: T, b: T): number {
  return compareStrings(a.name, b.name);
}

/** A map's entries in key order (e.g. workload labels as part of a cache key). */
export function sortedEntries<V>(m: Readonly<Record<string, V>>): Array<[string, V]> {
  return Object.entries(m).sort(([a], [b]) => compareStrings(a, b));
}
