/**
 * Leader election with a coordination.k8s.io Lease: every replica serves xDS; only the leader
 * writes status. The holder renews; when it stops renewing, another replica takes over once the
 * lease duration has passed. Optimistic concurrency (resourceVersion) decides races.
 */
import type { Logger } from '../../log.js';
import type { KubeRest } from './rest.js';

export interface LeaderOptions {
  rest: KubeRest;
  logger: Logger;
  namespace: string;
  name?: string;
  identity: string;
  leaseDurationSeconds?: number;
  retryPeriodMs?: number;
  onChange?: (leader: boolean) => void;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number };
}

/** A Kubernetes MicroTime (RFC 3339 with microseconds), as Lease times are written. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The API path of a namespace's Leases, or of one Lease. */
export function leasePath(namespace: string, name = ''): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases${name ? `/${name}` : ''}`;
}

export class LeaderElector {
  private leader = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly name: string;
  private readonly duration: number;

  constructor(private readonly opts: LeaderOptions) {
    this.name = opts.name ?? 'meshpilot-leader';
    this.duration = opts.leaseDurationSeconds ?? 15;
  }

  isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.leader) {
      // Step down: let another replica take over without waiting for the lease to expire.
      await this.release().catch(() => undefined);
      this.set(false);
    }
  }

  private set(v: boolean): void {
    if (v === this.leader) return;
    this.leader = v;
    this.opts.logger.info({ identity: this.opts.identity, leader: v }, v ? 'became leader' : 'lost leadership');
    this.opts.onChange?.(v);
  }

  private path(name = ''): string {
    return leasePath(this.opts.namespace, name);
  }

  private async tick(): Promise<void> {
    try {
      this.set(await this.tryAcquireOrRenew());
    } catch (err) {
      this.opts.logger.warn({ err: String(err) }, 'leader election round failed');
      this.set(false);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.opts.retryPeriodMs ?? 2000);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const nowIso = microTime(now);
    const got = await this.opts.rest.request<Lease>('GET', this.path(this.name));
    if (got.status === 404) {
      const created = await this.opts.rest.request('POST', this.path(), {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.name, namespace: this.opts.namespace },
        spec: { holderIdentity: this.opts.identity, leaseDurationSeconds: this.duration, acquireTime: nowIso, renewTime: nowIso, leaseTransitions: 0 },
      });
      return created.status === 201;
    }
    if (got.status !== 200) throw new Error(`GET lease: HTTP ${got.status}`);
    const lease = got.body;
    const holder = lease.spec.holderIdentity ?? '';
    const renew = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = !holder || now.getTime() > renew + (lease.spec.leaseDurationSeconds ?? this.duration) * 1000;
    if (holder !== this.opts.identity && !expired) return false;
    const transitions = (lease.spec.leaseTransitions ?? 0) + (holder === this.opts.identity ? 0 : 1);
    const updated = await this.opts.rest.request('PUT', this.path(this.name), {
      ...lease,
      spec: { ...lease.spec, holderIdentity: this.opts.identity, leaseDurationSeconds: this.duration, renewTime: nowIso, ...(holder === this.opts.identity ? {} : { acquireTime: nowIso }), leaseTransitions: transitions },
    });
    return updated.status === 200;
  }

  private async release(): Promise<void> {
    const got = await this.opts.rest.request<Lease>('GET', this.path(this.name));
    if (got.status !== 200 || got.body.spec.holderIdentity !== this.opts.identity) return;
    await this.opts.rest.request('PUT', this.path(this.name), { ...got.body, spec: { ...got.body.spec, holderIdentity: '', renewTime: undefined } });
  }
}
