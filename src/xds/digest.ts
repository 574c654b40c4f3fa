/**
 * Versions of a set of resources that can be kept up to date in O(changed): the combined version
 * is the XOR of a 64-bit mix of every (name, content hash) entry, so it depends only on the content
 * (not on order, process or history — equal sets give equal versions, also after a restart), and
 * replacing one entry costs two XORs instead of a pass over the whole set.
 */

/** A 64-bit mix of one entry as two unsigned 32-bit halves (two multiply-xorshift lanes over the text). */
function mixEntry(name: string, hash: string): [number, number] {
  let h1 = 0x9e3779b9 ^ name.length;
  let h2 = 0x85ebca6b ^ hash.length;
  const step = (c: number) => {
    h1 = Math.imul(h1 ^ c, 0x85ebca77);
    h2 = Math.imul(h2 ^ c, 0xc2b2ae3d);
  };
  for (let i = 0; i < name.length; i++) step(name.charCodeAt(i));
  step(0);
  for (let i = 0; i < hash.length; i++) step(hash.charCodeAt(i));
  // Final avalanche: every input bit reaches every output bit of both halves.
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x7feb352d) ^ Math.imul(h2 ^ (h2 >>> 13), 0x846ca68b);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 0x7feb352d) ^ Math.imul(h1 ^ (h1 >>> 13), 0x846ca68b);
  h1 ^= h1 >>> 15;
  h2 ^= h2 >>> 15;
  return [h1 >>> 0, h2 >>> 0];
}

/** name → content hash, with the combined version of all its entries kept current on every change. */
export class DigestMap {
  private readonly byName: Map<string, string>;
  private hi = 0;
  private lo = 0;

  constructor(entries?: Iterable<readonly [string, string]>) {
    this.byName = new Map();
    for (const [name, hash] of entries ?? []) this.set(name, hash);
  }

  get size(): number {
    return this.byName.size;
  }

  get(name: string): string | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  keys(): IterableIterator<string> {
    return this.byName.keys();
  }

  entries(): IterableIterator<[string, string]> {
    return this.byName.entries();
  }

  /** The content-derived version of the whole set (16 hex digits). */
  version(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }

  set(name: string, hash: string): void {
    const old = this.byName.get(name);
    if (old === hash) return;
    if (old !== undefined) this.toggle(name, old);
    this.byName.set(name, hash);
    this.toggle(name, hash);
  }

  delete(name: string): boolean {
    const old = this.byName.get(name);
    if (old === undefined) return false;
    this.byName.delete(name);
    this.toggle(name, old);
    return true;
  }

  /** Makes `name` hold `hash`, or removes it when `hash` is undefined. */
  put(name: string, hash: string | undefined): void {
    if (hash === undefined) this.delete(name);
    else this.set(name, hash);
  }

  private toggle(name: string, hash: string): void {
    const [a, b] = mixEntry(name, hash);
    this.hi = (this.hi ^ a) >>> 0;
    this.lo = (this.lo ^ b) >>> 0;
  }
}
