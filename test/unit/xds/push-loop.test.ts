import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PushLoop } from '../../../src/xds/push-loop.js';
import type { PushRequest } from '../../../src/xds/debounce.js';

const settled = () => new Promise<void>((r) => setTimeout(r, 20));

/** A loop whose pushes each have `n` steps that log `reason:i`. */
function loop(concurrency: number, n: number, log: string[], done: string[]): PushLoop<string> {
  return new PushLoop<string>(concurrency, (req: PushRequest) => ({
    summary: req.reason,
    steps: Array.from({ length: n }, (_, i) => () => { log.push(`${req.reason}:${i}`); }),
  }), (s) => done.push(s));
}

describe('PushLoop', () => {
  it('a push no larger than the concurrency runs at once', () => {
    const log: string[] = [];
    const done: string[] = [];
    loop(10, 3, log, done).start({ reason: 'a' }, 0);
    assert.deepEqual(log, ['a:0', 'a:1', 'a:2']);
    assert.deepEqual(done, ['a']);
  });

  it('a larger push goes out in batches, with a turn of the event loop between them', async () => {
    const log: string[] = [];
    const done: string[] = [];
    const l = new PushLoop<string>(2, () => ({
      summary: 's',
      // Each step schedules other work (as a gRPC write or an incoming ACK would be): it runs before the next batch.
      steps: Array.from({ length: 5 }, (_, i) => () => { log.push(`step ${i}`); if (i % 2 === 1) setImmediate(() => log.push(`io after ${i}`)); }),
    }), (s) => done.push(s));
    l.start({ reason: 'x' }, 0);
    assert.deepEqual(log, ['step 0', 'step 1']);
    assert.equal(l.busy, true);
    await settled();
    assert.deepEqual(log, ['step 0', 'step 1', 'io after 1', 'step 2', 'step 3', 'io after 3', 'step 4']);
    assert.deepEqual(done, ['s']);
    assert.equal(l.busy, false);
  });

  it('pushes requested while one runs are merged and run after it, once', async () => {
    const log: string[] = [];
    const done: string[] = [];
    const l = loop(1, 2, log, done);
    l.start({ reason: 'a' }, 0);
    l.start({ reason: 'b' }, 1);
    l.start({ reason: 'c' }, 2);
    assert.deepEqual(done, []);
    await settled();
    assert.deepEqual(done, ['a', 'b; c']);
    assert.deepEqual(log, ['a:0', 'a:1', 'b; c:0', 'b; c:1']);
  });

  it('a step that throws is reported and the push goes on', () => {
    const errors: unknown[] = [];
    const done: string[] = [];
    const l = new PushLoop<string>(5, () => ({ summary: 's', steps: [() => { throw new Error('boom'); }, () => done.push('second step')] }), (s) => done.push(s), (e) => errors.push(e));
    l.start({ reason: 'r' }, 0);
    assert.equal(errors.length, 1);
    assert.deepEqual(done, ['second step', 's']);
  });

  it('stop ends the running push after its batch and drops queued ones', async () => {
    const log: string[] = [];
    const done: string[] = [];
    const l = loop(1, 3, log, done);
    l.start({ reason: 'a' }, 0);
    l.start({ reason: 'b' }, 0);
    l.stop();
    await settled();
    assert.deepEqual(log, ['a:0']);
    assert.deepEqual(done, []);
  });

  it('refuses a concurrency below 1', () => {
    assert.throws(() => new PushLoop(0, () => ({ summary: 0, steps: [] }), () => undefined), /push concurrency 0/);
  });
});
