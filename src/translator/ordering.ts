/**
 * Deterministic ordering: plain UTF-16 code-unit comparison (never localeCompare, whose result
 * depends on the ICU data of the Node build), so that equal inputs give byte-equal output everywhere.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function byName<T extends { name: string }>(a: T, b: T): number {
  return compareStrings(a.name, b.name);
}
