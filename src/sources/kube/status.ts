/**
 * Status of Istio objects: an "Accepted" condition that says whether meshpilot took the object,
 * and why not (field path + message). Written only by the leader, and only when it changes.
 * Conditions are patched one type at a time (patchCondition): the others already on the object —
 * such as "Reconciled", written when proxies reject configuration — are kept.
 */
import type { Logger } from '../../log.js';
import type { StatusReport } from './kube-source.js';
import type { KubeRest } from './rest.js';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface AcceptedCondition extends Condition {
  type: 'Accepted';
  status: 'True' | 'False';
  reason: 'Valid' | 'Invalid';
}

export function desiredCondition(report: StatusReport, now: string): AcceptedCondition {
  const gen = (report.object.metadata as { generation?: number } | undefined)?.generation;
  const ok = report.errors.length === 0;
  return {
    type: 'Accepted',
    status: ok ? 'True' : 'False',
    reason: ok ? 'Valid' : 'Invalid',
    message: ok ? 'accepted by meshpilot' : report.errors.map((e) => `${e.path}: ${e.message}`).join('; '),
    ...(gen !== undefined ? { observedGeneration: gen } : {}),
    lastTransitionTime: now,
  };
}

export function conditionsOf(obj: Record<string, unknown>): Array<Partial<Condition>> {
  return (obj.status as { conditions?: Array<Partial<Condition>> } | undefined)?.conditions ?? [];
}

function currentCondition(obj: Record<string, unknown>): Partial<Condition> | undefined {
  return conditionsOf(obj).find((c) => c.type === 'Accepted');
}

/** The status path of an Istio object, e.g. /apis/networking.istio.io/v1/namespaces/NS/virtualservices/NAME/status. */
export function statusPath(plural: string, namespace: string, name: string): string {
  return `/apis/networking.istio.io/v1/namespaces/${namespace}/${plural}/${name}/status`;
}

/**
 * Sets one condition on an object's status, keeping every other condition (a merge patch replaces
 * the whole list, so the list is read, edited and written back under the object's resourceVersion;
 * a conflicting write is retried on a fresh read). An unchanged status keeps its lastTransitionTime.
 * Returns the final HTTP status (404: the object is gone).
 */
export async function patchCondition(rest: KubeRest, path: string, cond: Condition, extra: Record<string, unknown> = {}): Promise<number> {
  let last = 0;
  for (let attempt = 0; attempt < 4; attempt++) {
    const cur = await rest.request<Record<string, unknown>>('GET', path);
    if (cur.status >= 300) return cur.status;
    const old = conditionsOf(cur.body);
    const prev = old.find((c) => c.type === cond.type);
    const next = { ...cond, ...(prev?.status === cond.status && prev.lastTransitionTime ? { lastTransitionTime: prev.lastTransitionTime } : {}) };
    const conditions = old.some((c) => c.type === cond.type) ? old.map((c) => (c.type === cond.type ? next : c)) : [...old, next];
    const resourceVersion = (cur.body.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    const r = await rest.request('PATCH', path, { metadata: { resourceVersion }, status: { conditions, ...extra } }, 'application/merge-patch+json');
    last = r.status;
    if (r.status !== 409) return r.status;
  }
  return last;
}

export class StatusWriter {
  constructor(private readonly rest: KubeRest, private readonly logger: Logger, private readonly isLeader: () => boolean) {}

  /** Patches the Accepted condition when the desired one differs from what is stored. */
  async write(report: StatusReport): Promise<boolean> {
    if (!this.isLeader()) return false;
    const want = desiredCondition(report, new Date().toISOString());
    const have = currentCondition(report.object);
    if (have && have.status === want.status && have.message === want.message && have.observedGeneration === want.observedGeneration) return false;
    const meta = report.object.metadata as { name: string; namespace?: string };
    const path = statusPath(report.kind.plural, meta.namespace ?? 'default', meta.name);
    const status = await patchCondition(this.rest, path, want, want.observedGeneration !== undefined ? { observedGeneration: want.observedGeneration } : {});
    if (status >= 300) {
      this.logger.warn({ object: `${report.kind.kind} ${meta.namespace}/${meta.name}`, status }, 'status update failed');
      return false;
    }
    return true;
  }
}
