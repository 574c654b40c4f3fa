/**
 * Push debouncing, as Istio does it: wait for a quiet period after the last change, but never
 * longer than a maximum since the first one. Requests arriving meanwhile are merged.
 */
import { performance } from 'node:perf_hooks';
import type { ProxyInfo } from '../proxy/node.js';

export interface PushRequest {
  reason: string;
  /** Which proxies need the push; all when omitted. */
  affects?: (proxy: ProxyInfo) => boolean;
}

export function mergePushRequests(a: PushRequest, b: PushRequest): PushRequest {
  const reason = a.reason === b.reason ? a.reason : `${a.reason}; ${b.reason}`;
  if (!a.affects || !b.affects) return { reason };
  const fa = a.affects;
  const fb = b.affects;
  return { reason, affects: (p) => fa(p) || fb(p) };
}

export class Debouncer {
  private pending?: PushRequest;
  private firstAt = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly quietMs: number,
    private readonly maxMs: number,
    private readonly fire: (req: PushRequest, queuedAt: number) => void,
  ) {}

  request(req: PushRequest): void {
    const now = performance.now();
    if (!this.pending) {
      this.pending = req;
      this.firstAt = now;
    } else {
      this.pending = mergePushRequests(this.pending, req);
    }
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.quietMs, this.firstAt + this.maxMs - now));
    this.timer = setTimeout(() => this.flush(), wait);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const req = this.pending;
    const at = this.firstAt;
    this.pending = undefined;
    if (req) this.fire(req, at);
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
}
