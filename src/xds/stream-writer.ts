/**
 * Writes responses to one ADS stream without ever buffering without bound. gRPC's `write()`
 * returns false once the stream's buffer is full (the proxy is not reading, or its link is slow);
 * from then on nothing more is handed to gRPC until the stream drains:
 *
 * - pushes are not sent at all: the stream is only marked dirty, and on 'drain' the server pushes
 *   the proxy's latest resources once (the connection diffs them against what it last sent, so
 *   every change made meanwhile is merged into one response per type, for SotW and Delta alike);
 * - responses the connection produces while blocked (answers to the proxy's own requests) are held:
 *   State of the World keeps only the newest per type (a SotW response replaces the previous one of
 *   its type, and a held one was never seen by the proxy, so its nonce can never be acknowledged);
 *   Delta keeps them in order, at most `maxHeldDelta`, beyond which the stream is given up.
 */
import { RESOURCE_KINDS, TYPE_URLS } from '../translator/types.js';

/** The little of a gRPC server stream the writer uses. */
export interface WritableCall<Res> {
  write(res: Res): boolean;
  once(event: 'drain', listener: () => void): unknown;
  readonly writableLength: number;
}

export interface StreamWriterOptions {
  protocol: 'sotw' | 'delta';
  /** Called once the stream drained while a push was deferred: push the latest state now. */
  onWritable(): void;
  /** Called when a Delta stream holds more than `maxHeldDelta` responses: end it. */
  onOverflow(held: number): void;
  /** Called when the stream becomes blocked (true) or writable again (false). */
  onBlocked?(blocked: boolean): void;
  maxHeldDelta?: number;
}

/** Warming order of the types (CDS, EDS, LDS, RDS, SDS): held SotW responses are flushed in it. */
const TYPE_ORDER = new Map<string, number>(RESOURCE_KINDS.map((k, i) => [TYPE_URLS[k], i]));

export class StreamWriter<Res extends { typeUrl?: string }> {
  private isBlocked = false;
  /** Push deferred while blocked: pushed on drain. */
  private dirty = false;
  private closed = false;
  private readonly heldSotw = new Map<string, Res>();
  private heldDelta: Res[] = [];

  constructor(private readonly call: WritableCall<Res>, private readonly opts: StreamWriterOptions) {}

  /** True while gRPC's buffer for the stream is full: the server defers pushes (markDirty). */
  get blocked(): boolean {
    return this.isBlocked;
  }

  /** Responses held back (not yet handed to gRPC) plus those gRPC buffers for the stream. */
  queued(): number {
    return this.heldSotw.size + this.heldDelta.length + this.call.writableLength;
  }

  /** A push found the stream blocked: send the latest state once it drains. */
  markDirty(): void {
    this.dirty = true;
  }

  write(res: Res): void {
    if (this.closed) return;
    if (this.isBlocked) return this.hold(res);
    if (!this.call.write(res)) this.block();
  }

  /** The stream ended: forget what was held. */
  close(): void {
    this.closed = true;
    this.heldSotw.clear();
    this.heldDelta = [];
    if (this.isBlocked) {
      this.isBlocked = false;
      this.opts.onBlocked?.(false);
    }
  }

  private hold(res: Res): void {
    if (this.opts.protocol === 'sotw') {
      this.heldSotw.set(res.typeUrl ?? '', res);
      return;
    }
    this.heldDelta.push(res);
    const max = this.opts.maxHeldDelta ?? 100;
    if (this.heldDelta.length > max) {
      const held = this.heldDelta.length;
      this.close();
      this.opts.onOverflow(held);
    }
  }

  private block(): void {
    this.isBlocked = true;
    this.opts.onBlocked?.(true);
    this.call.once('drain', () => this.onDrain());
  }

  private onDrain(): void {
    if (this.closed || !this.isBlocked) return;
    this.isBlocked = false;
    this.opts.onBlocked?.(false);
    const held = this.opts.protocol === 'sotw'
      ? [...this.heldSotw.values()].sort((a, b) => (TYPE_ORDER.get(a.typeUrl ?? '') ?? 99) - (TYPE_ORDER.get(b.typeUrl ?? '') ?? 99))
      : this.heldDelta;
    this.heldSotw.clear();
    this.heldDelta = [];
    for (const res of held) this.write(res);
    if (this.dirty && !this.isBlocked) {
      this.dirty = false;
      this.opts.onWritable();
    }
  }
}
