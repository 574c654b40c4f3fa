/**
 * Runs pushes one at a time, each in batches of at most `concurrency` proxies with a turn of the
 * event loop between batches (Istio's push throttle): gRPC flushes what a batch wrote and proxies'
 * ACKs are read while the rest of the push is still being computed, instead of every write waiting
 * for the whole loop.
 *
 * A push requested while one runs is queued, merged with any other queued request (as Istio's
 * debouncer waits for the running push), and starts when the running one ends. Every proxy is
 * regenerated from the registry's latest snapshot when its turn comes, so a proxy the running push
 * has not reached yet already gets the newer configuration, and the queued push then reaches every
 * proxy it affects: none misses the latest change and none is sent older content after newer.
 */
import { mergePushRequests, type PushRequest } from './debounce.js';

export interface PushPlan<S> {
  summary: S;
  /** One step per affected proxy, run in order. */
  steps: Array<() => void>;
}

export class PushLoop<S = unknown> {
  private running = false;
  private stopped = false;
  private queued?: { req: PushRequest; queuedAt: number };

  constructor(
    private readonly concurrency: number,
    private readonly plan: (req: PushRequest, queuedAt: number) => PushPlan<S>,
    private readonly done: (summary: S) => void,
    private readonly onStepError: (err: unknown) => void = () => undefined,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`push concurrency ${concurrency}: expected a positive integer`);
  }

  /** True while a push is being written out. */
  get busy(): boolean {
    return this.running;
  }

  start(req: PushRequest, queuedAt: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.queued = this.queued
        ? { req: mergePushRequests(this.queued.req, req), queuedAt: Math.min(this.queued.queuedAt, queuedAt) }
        : { req, queuedAt };
      return;
    }
    this.running = true;
    const { summary, steps } = this.plan(req, queuedAt);
    let next = 0;
    const runBatch = () => {
      if (this.stopped) return;
      const end = Math.min(steps.length, next + this.concurrency);
      for (; next < end; next++) {
        try {
          steps[next]();
        } catch (err) {
          this.onStepError(err);
        }
      }
      if (next < steps.length) {
        setImmediate(runBatch);
        return;
      }
      this.running = false;
      this.done(summary);
      const queued = this.queued;
      this.queued = undefined;
      if (queued) this.start(queued.req, queued.queuedAt);
    };
    runBatch();
  }

  /** Stops after the current batch; queued pushes are dropped. */
  stop(): void {
    this.stopped = true;
    this.queued = undefined;
  }
}
