/**
 * Push debouncing, as Istio does it: wait for a quiet period after the last change, but never
 * longer than a maximum since the first one. Requests arriving meanwhile are merged. The clock is
 * injected so that tests drive time by hand.
 */
import { performance } from 'node:perf_hooks';
import type { ProxyInfo } from '../proxy/node.js';

export interface PushRequest {
  reason: string;
  /** Which proxies need the push; all when omitted. */
  affects?: (proxy: ProxyInfo) => boolean;
  /**
   * Set when every merged change touched only endpoints (the registry's EndpointChange): the server
   * may then rebuild only the affected ClusterLoadAssignments (XdsServerOptions.generateEndpoints).
   */
  endpoints?: { services: string[]; addresses: string[] };
}

/** The little of a clock the debouncer needs. */
export interface DebounceClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: DebounceClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

export function mergePushRequests(a: PushRequest, b: PushRequest): PushRequest {
  const reason = a.reason === b.reason ? a.reason : `${a.reason}; ${b.reason}`;
  const endpoints = a.endpoints && b.endpoints ? {
    services: [...new Set([...a.endpoints.services, ...b.endpoints.services])].sort(),
    addresses: [...new Set([...a.endpoints.addresses, ...b.endpoints.addresses])].sort(),
  } : undefined;
  const extra = endpoints ? { endpoints } : {};
  if (!a.affects || !b.affects) return { reason, ...extra };
  const fa = a.affects;
  const fb = b.affects;
  return { reason, affects: (p) => fa(p) || fb(p), ...extra };
}

export class Debouncer {
  private pending?: PushRequest;
  private firstAt = 0;
  private timer?: unknown;

  constructor(
    private readonly quietMs: number,
    private readonly maxMs: number,
    private readonly fire: (req: PushRequest, queuedAt: number) => void,
    private readonly clock: DebounceClock = realClock,
  ) {}

  request(req: PushRequest): void {
    const now = this.clock.now();
    if (!this.pending) {
      this.pending = req;
      this.firstAt = now;
    } else {
      this.pending = mergePushRequests(this.pending, req);
    }
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    const wait = Math.max(0, Math.min(this.quietMs, this.firstAt + this.maxMs - now));
    this.timer = this.clock.setTimer(() => this.flush(), wait);
  }

  /** Fires the pending request now (if any). */
  flush(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    const req = this.pending;
    const at = this.firstAt;
    this.pending = undefined;
    if (req) this.fire(req, at);
  }

  cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
}
