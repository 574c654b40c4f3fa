/**
 * Interning translator output against an earlier generation: a resource whose content did not
 * change keeps its previous object, so everything downstream (versions, the encode cache, a
 * stream's record of what it sent) can tell unchanged resources by identity. And a JSON hash.
 */
import { createHash } from 'node:crypto';
import type { NamedResource } from './types.js';

/** Hash of a JSON-able value (16 hex digits of SHA-256 over its JSON text). */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/**
 * Whether two translator values have the same content: a walk that stops at the first
 * difference and allocates nothing (cheaper than hashing both). Objects compare by their own
 * enumerable keys whatever their order (the protobuf encoding does not depend on it), byte arrays
 * by their bytes.
 */
export function sameContent(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameContent(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return false;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    if (!Object.prototype.hasOwnProperty.call(x, k)) continue;
    const v = x[k];
    // An undefined member is absent (as JSON and the encoder see it).
    if (v === undefined) continue;
    n++;
    if (!sameContent(v, y[k])) return false;
  }
  for (const k in y) if (Object.prototype.hasOwnProperty.call(y, k) && y[k] !== undefined) n--;
  return n === 0;
}

/**
 * `next` with every resource whose content equals the one of the same name in `prev` replaced by
 * that earlier object; `prev` itself when nothing changed (same names, same order, same content).
 */
export function internResources(next: NamedResource[], prev: readonly NamedResource[] | undefined): NamedResource[] {
  if (!prev) return next;
  if (next.length === 0 || prev.length === 0) return next.length === prev.length ? (prev as NamedResource[]) : next;
  const before = new Map<string, NamedResource>();
  for (const r of prev) before.set(r.name, r);
  let same = next.length === prev.length;
  const out = new Array<NamedResource>(next.length);
  for (let i = 0; i < next.length; i++) {
    const r = next[i];
    const p = before.get(r.name);
    const keep = p !== undefined && (p === r || sameContent(p.value, r.value));
    out[i] = keep ? p : r;
    if (out[i] !== prev[i]) same = false;
  }
  return same ? (prev as NamedResource[]) : out;
}
