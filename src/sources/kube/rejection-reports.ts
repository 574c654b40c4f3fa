/**
 * Rejections seen by every replica, for the one that writes status: each replica publishes what
 * the proxies connected to it reject in a Lease of its own (`meshpilot-rejections-IDENTITY`, in the
 * leader-election namespace, the rejections as JSON in an annotation), renewed while it has any and
 * deleted when it has none; the leader reads the others' Leases and adds their rejections to its
 * own. A report not renewed within `staleMs` (its replica died) is ignored. Leases, not ConfigMaps:
 * the leader-election permissions already cover them, and renewTime says whether the writer lives.
 */
import type { Logger } from '../../log.js';
import { compareStrings } from '../../registry/ordering.js';
import { compareRejections } from '../../xds/provenance.js';
import { leasePath, microTime } from './leader.js';
import type { ObjectRejectionsView } from './reconciled-status.js';
import type { KubeRest } from './rest.js';

const LABEL = 'meshpilot.io/rejection-report';
const ANNOTATION = 'meshpilot.io/rejections';
/** Most of one report kept (annotations are limited to 256 KiB in all). */
const MAX_REPORT_CHARS = 200_000;

export interface RejectionReportsOptions {
  rest: KubeRest;
  logger: Logger;
  namespace: string;
  identity: string;
  /** What this replica's proxies reject now. */
  local: () => Map<string, ObjectRejectionsView>;
  isLeader: () => boolean;
  /** The other replicas' rejections changed (read by the leader). */
  onRemoteChange: () => void;
  /** How often reports are published/renewed and read (default 5000 ms). */
  periodMs?: number;
  /** A report older than this is ignored (default 4 periods). */
  staleMs?: number;
}

interface LeaseObject {
  metadata: { name: string; resourceVersion?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: { holderIdentity?: string; renewTime?: string };
}

/** Rejections of several sources together, per object (rejections concatenated, sorted by proxy). */
export function mergeRejections(...maps: Array<Map<string, ObjectRejectionsView>>): Map<string, ObjectRejectionsView> {
  const out = new Map<string, ObjectRejectionsView>();
  for (const m of maps) {
    for (const [key, v] of m) {
      const have = out.get(key);
      out.set(key, have ? { ref: have.ref, rejections: [...have.rejections, ...v.rejections] } : v);
    }
  }
  // Sorted as one replica's own list is (provenance.ts), so a merged message equals a local one.
  for (const [key, v] of out) out.set(key, { ref: v.ref, rejections: [...v.rejections].sort(compareRejections) });
  return out;
}

/** A Lease name (DNS subdomain) for a replica identity. */
export function reportName(identity: string): string {
  const safe = identity.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `meshpilot-rejections-${safe || 'replica'}`.slice(0, 253);
}

function serialise(m: Map<string, ObjectRejectionsView>): string {
  const entries: ObjectRejectionsView[] = [];
  let size = 2;
  for (const v of [...m.values()].sort((a, b) => compareStrings(JSON.stringify(a.ref), JSON.stringify(b.ref)))) {
    const one = JSON.stringify(v).length + 1;
    if (size + one > MAX_REPORT_CHARS) break;
    size += one;
    entries.push(v);
  }
  return JSON.stringify(entries);
}

function parse(text: string | undefined): Map<string, ObjectRejectionsView> {
  const out = new Map<string, ObjectRejectionsView>();
  try {
    const list = JSON.parse(text ?? '[]') as ObjectRejectionsView[];
    if (!Array.isArray(list)) return out;
    for (const v of list) if (v?.ref?.kind && Array.isArray(v.rejections)) out.set(`${v.ref.kind}/${v.ref.namespace}/${v.ref.name}`, v);
  } catch {
    // A report that does not parse counts as empty.
  }
  return out;
}

export class RejectionReports {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** The report as last published ('' = none published). */
  private published = '';
  private lastPublishAt = 0;
  private remoteMap = new Map<string, ObjectRejectionsView>();
  private remoteText = '[]';
  private soon?: NodeJS.Timeout;
  /** This replica's report text, recomputed only after localChanged() ('' = nothing rejected). */
  private current = '';
  private dirty = true;

  constructor(private readonly opts: RejectionReportsOptions) {}

  start(): void {
    void this.tick();
  }

  /** The other replicas' current rejections (as last read; empty unless leading). */
  remote(): Map<string, ObjectRejectionsView> {
    return this.remoteMap;
  }

  /** This replica's rejections changed: published within a second. */
  localChanged(): void {
    this.dirty = true;
    if (this.stopped || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.publish().catch((err: unknown) => this.opts.logger.warn({ err: String(err) }, 'publishing the rejection report failed'));
    }, 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.soon) clearTimeout(this.soon);
    // Leaving: what our proxies rejected no longer counts.
    if (this.published) await this.opts.rest.request('DELETE', this.path(reportName(this.opts.identity))).catch(() => undefined);
  }

  private path(name = ''): string {
    return leasePath(this.opts.namespace, name);
  }

  private period(): number {
    return this.opts.periodMs ?? 5000;
  }

  private async tick(): Promise<void> {
    try {
      await this.publish();
      if (this.opts.isLeader()) await this.readOthers();
      else this.setRemote(new Map());
    } catch (err) {
      this.opts.logger.warn({ err: String(err) }, 'rejection report round failed');
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.period());
  }

  /** Writes this replica's report when it changed, renews it while it has rejections, deletes it when empty. */
  private async publish(): Promise<void> {
    if (this.stopped) return;
    if (this.dirty) {
      this.dirty = false;
      const local = this.opts.local();
      this.current = local.size ? serialise(local) : '';
    }
    const text = this.current;
    const renewDue = Date.now() - this.lastPublishAt >= this.period() / 2;
    if (text === this.published && (!text || !renewDue)) return;
    const name = reportName(this.opts.identity);
    if (!text) {
      const r = await this.opts.rest.request('DELETE', this.path(name));
      if (r.status < 300 || r.status === 404) this.published = '';
      return;
    }
    const lease = {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: { name, namespace: this.opts.namespace, labels: { [LABEL]: 'true' }, annotations: { [ANNOTATION]: text } },
      spec: { holderIdentity: this.opts.identity, renewTime: microTime(new Date()) },
    };
    const got = await this.opts.rest.request<LeaseObject>('GET', this.path(name));
    const r = got.status === 404
      ? await this.opts.rest.request('POST', this.path(), lease)
      : await this.opts.rest.request('PUT', this.path(name), { ...lease, metadata: { ...lease.metadata, resourceVersion: got.body.metadata?.resourceVersion } });
    if (r.status >= 300) {
      this.opts.logger.warn({ status: r.status, lease: name }, 'rejection report not written; retried next round');
      return;
    }
    this.published = text;
    this.lastPublishAt = Date.now();
  }

  private async readOthers(): Promise<void> {
    const r = await this.opts.rest.request<{ items?: LeaseObject[] }>('GET', `${this.path()}?labelSelector=${encodeURIComponent(`${LABEL}=true`)}`);
    if (r.status !== 200) throw new Error(`list rejection reports: HTTP ${r.status}`);
    const staleMs = this.opts.staleMs ?? 4 * this.period();
    const others = (r.body.items ?? []).filter((l) => l.spec.holderIdentity !== this.opts.identity);
    const isFresh = (l: LeaseObject) => !!l.spec.renewTime && Date.now() - Date.parse(l.spec.renewTime) <= staleMs;
    // Reports of replicas gone for good are removed (a live one renews its report every period).
    for (const l of others.filter((x) => !isFresh(x))) await this.opts.rest.request('DELETE', this.path(l.metadata.name)).catch(() => undefined);
    const fresh = others.filter(isFresh);
    this.setRemote(mergeRejections(...fresh.map((l) => parse(l.metadata.annotations?.[ANNOTATION]))));
  }

  private setRemote(m: Map<string, ObjectRejectionsView>): void {
    const text = serialise(m);
    if (text === this.remoteText) return;
    this.remoteText = text;
    this.remoteMap = m;
    this.opts.onRemoteChange();
  }
}
