import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { TYPE_URLS } from '../../../src/translator/types.js';
import { StreamWriter, type StreamWriterOptions } from '../../../src/xds/stream-writer.js';

interface Res { typeUrl: string; nonce: string }

/** A gRPC stream stand-in whose buffer takes `room` responses; `drain()` empties it as gRPC would. */
class FakeCall extends EventEmitter {
  written: Res[] = [];
  buffered = 0;
  constructor(private readonly room: number) { super(); }
  get writableLength(): number { return this.buffered; }
  write(res: Res): boolean {
    this.written.push(res);
    this.buffered++;
    return this.buffered < this.room;
  }
  drain(): void {
    this.buffered = 0;
    this.emit('drain');
  }
}

const r = (kind: keyof typeof TYPE_URLS, nonce: string): Res => ({ typeUrl: TYPE_URLS[kind], nonce });

function setup(protocol: 'sotw' | 'delta', room: number, extra: Partial<StreamWriterOptions> = {}) {
  const call = new FakeCall(room);
  const events: string[] = [];
  const writer = new StreamWriter<Res>(call, {
    protocol,
    onWritable: () => events.push('writable'),
    onOverflow: (n) => events.push(`overflow ${n}`),
    onBlocked: (b) => events.push(b ? 'blocked' : 'unblocked'),
    ...extra,
  });
  return { call, events, writer };
}

describe('StreamWriter', () => {
  it('writes straight through while the stream has room', () => {
    const { call, writer, events } = setup('sotw', 10);
    writer.write(r('clusters', '1'));
    writer.write(r('endpoints', '2'));
    assert.deepEqual(call.written.map((x) => x.nonce), ['1', '2']);
    assert.equal(writer.blocked, false);
    assert.deepEqual(events, []);
  });

  it('SotW: once gRPC is full, holds only the newest response per type and flushes them in warming order on drain', () => {
    const { call, writer, events } = setup('sotw', 1);
    writer.write(r('listeners', '1'));
    assert.equal(writer.blocked, true);
    writer.write(r('routes', '2'));
    writer.write(r('endpoints', '3'));
    writer.write(r('routes', '4'));
    writer.write(r('clusters', '5'));
    assert.deepEqual(call.written.map((x) => x.nonce), ['1']);
    assert.equal(writer.queued(), 1 + 3);
    call.drain();
    // CDS, EDS, then RDS; the first write fills the buffer again, the rest stay held.
    assert.deepEqual(call.written.map((x) => x.nonce), ['1', '5']);
    assert.equal(writer.blocked, true);
    call.drain();
    call.drain();
    assert.deepEqual(call.written.map((x) => x.nonce), ['1', '5', '3', '4']);
    assert.deepEqual(events, ['blocked', 'unblocked', 'blocked', 'unblocked', 'blocked', 'unblocked', 'blocked']);
  });

  it('a push deferred while blocked is asked for once the held responses are written', () => {
    const { call, writer, events } = setup('sotw', 2);
    writer.write(r('clusters', '1'));
    writer.write(r('clusters', '2'));
    writer.markDirty();
    writer.markDirty();
    call.drain();
    assert.deepEqual(events, ['blocked', 'unblocked', 'writable']);
    call.drain();
    assert.deepEqual(events, ['blocked', 'unblocked', 'writable'], 'no second push without a new deferral');
  });

  it('Delta: holds responses in order, and gives the stream up beyond the limit', () => {
    const { call, writer, events } = setup('delta', 1, { maxHeldDelta: 3 });
    writer.write(r('clusters', '1'));
    writer.write(r('endpoints', '2'));
    writer.write(r('clusters', '3'));
    writer.write(r('endpoints', '4'));
    assert.equal(writer.queued(), 1 + 3);
    writer.write(r('endpoints', '5'));
    assert.deepEqual(events, ['blocked', 'unblocked', 'overflow 4']);
    assert.equal(writer.queued(), 1, 'nothing held any more (only what gRPC had)');
    writer.write(r('endpoints', '6'));
    call.drain();
    assert.deepEqual(call.written.map((x) => x.nonce), ['1']);
  });

  it('Delta: held responses are written in their order on drain', () => {
    const { call, writer } = setup('delta', 1);
    writer.write(r('clusters', '1'));
    writer.write(r('endpoints', '2'));
    writer.write(r('clusters', '3'));
    call.drain();
    call.drain();
    assert.deepEqual(call.written.map((x) => x.nonce), ['1', '2', '3']);
  });

  it('close forgets what was held', () => {
    const { call, writer } = setup('sotw', 1);
    writer.write(r('clusters', '1'));
    writer.write(r('clusters', '2'));
    writer.close();
    call.drain();
    assert.deepEqual(call.written.map((x) => x.nonce), ['1']);
    assert.equal(writer.blocked, false);
  });
});
