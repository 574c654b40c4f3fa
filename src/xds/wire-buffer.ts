/**
 * A growable byte buffer with the protobuf wire primitives (varints, fixed-width numbers, UTF-8
 * strings, length-delimited parts). A length-delimited part reserves one byte for its length and
 * moves its content when the length needs more, so nested messages are written in one pass and
 * nothing but the buffer is allocated.
 */
export class WireBuffer {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Starts a new message at offset 0 (the buffer is reused). */
  reset(): void {
    this.pos = 0;
  }

  /** Bytes written since reset. */
  get length(): number {
    return this.pos;
  }

  /** What was written since reset, as a view of the buffer: valid only until the next write. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of what was written since `start` (0: since reset). */
  copy(start = 0): Buffer {
    const out = Buffer.allocUnsafe(this.pos - start);
    this.buf.copy(out, 0, start, this.pos);
    return out;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** An unsigned 32-bit varint (tags, lengths, uint32, bool, non-negative int32). */
  uint32(v: number): void {
    this.ensure(5);
    this.pos = putVarint(this.buf, this.pos, v);
  }

  /** A signed 32-bit varint: negative values take ten bytes (sign-extended to 64 bits). */
  int32(v: number): void {
    if (v >= 0) this.uint32(v);
    else this.varint64(v >>> 0, 0xffffffff);
  }

  /** A 64-bit varint from its low and high 32 bits (unsigned). */
  varint64(lo: number, hi: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (hi) {
      b[p++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 127) {
      b[p++] = (lo & 127) | 128;
      lo >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  fixed64(lo: number, hi: number): void {
    this.ensure(8);
    this.buf.writeUInt32LE(lo >>> 0, this.pos);
    this.buf.writeUInt32LE(hi >>> 0, this.pos + 4);
    this.pos += 8;
  }

  float(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** A length-prefixed UTF-8 string. */
  string(s: string): void {
    const n = s.length;
    if (n < 128) {
      // Short ASCII strings (nearly all names) byte by byte; anything else through Buffer.
      this.ensure(n + 1);
      const b = this.buf;
      const start = this.pos;
      let p = start + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 127) break;
        b[p++] = c;
      }
      if (i === n) {
        b[start] = n;
        this.pos = p;
        return;
      }
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.uint32(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  /** Length-prefixed bytes. */
  bytes(v: Uint8Array): void {
    this.uint32(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** Bytes as they are (an already encoded part). */
  raw(v: Uint8Array): void {
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** Starts a length-delimited part; returns what `end` needs. */
  begin(): number {
    this.ensure(1);
    return ++this.pos;
  }

  /** Ends the part `begin` started: writes its length in front of it. */
  end(start: number): void {
    const len = this.pos - start;
    if (len < 128) {
      this.buf[start - 1] = len;
      return;
    }
    let extra = 1;
    while (len >>> (7 * (extra + 1)) !== 0 && extra < 4) extra++;
    this.ensure(extra);
    this.buf.copyWithin(start + extra, start, this.pos);
    this.pos = start - 1;
    this.uint32(len);
    this.pos = start + extra + len;
  }
}

/** Writes `v` (unsigned 32-bit) as a varint into `b` at `p` (room is the caller's); returns the position after it. */
export function putVarint(b: Uint8Array, p: number, v: number): number {
  v >>>= 0;
  while (v > 127) {
    b[p++] = (v & 127) | 128;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/** Bytes a varint of `v` (unsigned 32-bit) takes. */
export function varintSize(v: number): number {
  v >>>= 0;
  let n = 1;
  while (v > 127) {
    v >>>= 7;
    n++;
  }
  return n;
}
