/**
 * The "Reconciled" condition of Istio objects (Istio's name for "did the configuration reach the
 * proxies"): when connected proxies reject (NACK) configuration made from an object, the leader
 * writes `Reconciled: False, reason: Rejected` naming the proxies, the rejected resources and
 * Envoy's errors. When no connected proxy rejects it any more (they accepted newer configuration,
 * or disconnected), the condition is set back to `True` (reason NotRejected) rather than removed:
 * users waiting with `kubectl wait --for=condition=Reconciled` expect a condition that turns True,
 * as it does with Istio's distribution tracking. Objects never rejected get no Reconciled condition
 * (meshpilot does not count acknowledgements per object). Writes are coalesced: at most one pass
 * per interval (default 1 s), each object written only when its condition changes; a stale False
 * condition left by an earlier leader is cleared once seen. Only the leader writes; with several
 * replicas, `rejections` includes the other replicas' reports (rejection-reports.ts).
 */
import { ISTIO_KINDS, type IstioKind } from '../../api/index.js';
import type { Logger } from '../../log.js';
import { conditionsOf, patchCondition, statusPath, type Condition } from './status.js';
import type { KubeRest } from './rest.js';

/** What proxies reject of one object's configuration (shape of src/xds/provenance.ts's ObjectRejections). */
export interface ObjectRejectionsView {
  ref: { kind: string; namespace: string; name: string };
  rejections: ReadonlyArray<{ proxy: string; kind: string; name: string; message: string }>;
}

export interface ReconciledStatusOptions {
  rest: KubeRest;
  logger: Logger;
  isLeader: () => boolean;
  /** Current rejections by object key "Kind/namespace/name". */
  rejections: () => Map<string, ObjectRejectionsView>;
  /** Coalescing window and least time between two passes (default 1000 ms). */
  intervalMs?: number;
}

const ENVOY_TYPES: Record<string, string> = { routes: 'RouteConfiguration', clusters: 'Cluster', listeners: 'Listener', endpoints: 'ClusterLoadAssignment', secrets: 'Secret' };
const MAX_PROXIES = 5;
const MAX_ERROR = 200;
const RETRY_MS = 30_000;

function truncate(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 3)}...` : one;
}

/** The condition for an object, from what connected proxies reject of it (none: True). */
export function reconciledCondition(rejections: ObjectRejectionsView['rejections'] | undefined, now: string): Condition {
  if (!rejections?.length) {
    return { type: 'Reconciled', status: 'True', reason: 'NotRejected', message: 'no connected proxy rejects configuration made from this object', lastTransitionTime: now };
  }
  const byProxy = new Map<string, string[]>();
  for (const r of rejections) {
    const list = byProxy.get(r.proxy) ?? [];
    list.push(`${ENVOY_TYPES[r.kind] ?? r.kind} ${r.name}: ${truncate(r.message, MAX_ERROR)}`);
    byProxy.set(r.proxy, list);
  }
  const shown = [...byProxy].slice(0, MAX_PROXIES).map(([proxy, what]) => `${proxy} (${what.join('; ')})`);
  const more = byProxy.size > MAX_PROXIES ? `; and ${byProxy.size - MAX_PROXIES} more` : '';
  return {
    type: 'Reconciled', status: 'False', reason: 'Rejected',
    message: `rejected by ${byProxy.size} proxy(ies): ${shown.join(', ')}${more}`,
    lastTransitionTime: now,
  };
}

interface Written { ref: ObjectRejectionsView['ref']; status: string; message: string }

export class ReconciledStatus {
  /** What the objects' Reconciled condition is known to say (written by us, or seen stored). */
  private readonly known = new Map<string, Written>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private dirty = false;
  /** A write failed: the next pass comes after RETRY_MS unless a change asks sooner. */
  private failed = false;
  private stopped = false;

  constructor(private readonly opts: ReconciledStatusOptions) {}

  /** Rejections (or leadership) changed: a pass is scheduled (coalesced). */
  changed(): void {
    this.schedule(this.opts.intervalMs ?? 1000);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer || this.running) { this.dirty = true; return; }
    this.timer = setTimeout(() => { this.timer = undefined; void this.pass(); }, delayMs);
  }

  /** An Istio object as the source saw it: a stored Reconciled condition we do not know of is taken into account. */
  observe(kind: string, object: Record<string, unknown>): void {
    const meta = object.metadata as { name?: string; namespace?: string } | undefined;
    if (!meta?.name) return;
    const ref = { kind, namespace: meta.namespace ?? 'default', name: meta.name };
    const key = `${kind}/${ref.namespace}/${ref.name}`;
    if (this.known.has(key)) return;
    const stored = conditionsOf(object).find((c) => c.type === 'Reconciled');
    if (!stored?.status) return;
    this.known.set(key, { ref, status: stored.status, message: stored.message ?? '' });
    if (stored.status !== 'True') this.changed();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async pass(): Promise<void> {
    this.running = true;
    this.dirty = false;
    this.failed = false;
    try {
      if (this.opts.isLeader()) await this.writeChanges();
    } catch (err) {
      this.failed = true;
      this.opts.logger.warn({ err: String(err) }, 'Reconciled status pass failed; retrying');
    } finally {
      this.running = false;
      if (this.dirty) this.changed();
      else if (this.failed) this.schedule(RETRY_MS);
    }
  }

  private async writeChanges(): Promise<void> {
    const current = this.opts.rejections();
    const keys = new Set([...current.keys(), ...this.known.keys()]);
    const now = new Date().toISOString();
    for (const key of keys) {
      if (this.stopped) return;
      const entry = current.get(key);
      const ref = entry?.ref ?? this.known.get(key)!.ref;
      const plural = ISTIO_KINDS[ref.kind as IstioKind]?.plural;
      if (!plural) continue;
      const want = reconciledCondition(entry?.rejections, now);
      const have = this.known.get(key);
      if (have ? have.status === want.status && have.message === want.message : want.status === 'True') continue;
      const status = await patchCondition(this.opts.rest, statusPath(plural, ref.namespace, ref.name), want);
      const object = `${ref.kind} ${ref.namespace}/${ref.name}`;
      if (status === 404) { this.known.delete(key); continue; }
      if (status >= 300) {
        this.opts.logger.warn({ object, status }, 'Reconciled status update failed; retrying');
        this.failed = true;
        continue;
      }
      this.known.set(key, { ref, status: want.status, message: want.message });
      this.opts.logger.info({ object, status: want.status, reason: want.reason, message: want.message }, 'Reconciled status written');
    }
  }
}
