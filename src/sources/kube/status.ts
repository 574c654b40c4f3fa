/**
 * Status of Istio objects: an "Accepted" condition that says whether meshpilot took the object,
 * and why not (field path + message). Written only by the leader, and only when it changes.
 */
import type { Logger } from '../../log.js';
import type { StatusReport } from './kube-source.js';
import type { KubeRest } from './rest.js';

export interface AcceptedCondition {
  type: 'Accepted';
  status: 'True' | 'False';
  reason: 'Valid' | 'Invalid';
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
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

function currentCondition(obj: Record<string, unknown>): Partial<AcceptedCondition> | undefined {
  const conds = (obj.status as { conditions?: Array<Partial<AcceptedCondition>> } | undefined)?.conditions;
  return conds?.find((c) => c.type === 'Accepted');
}

export class StatusWriter {
  constructor(private readonly rest: KubeRest, private readonly logger: Logger, private readonly isLeader: () => boolean) {}

  /** Patches status/conditions when the desired Accepted condition differs from what is stored. */
  async write(report: StatusReport): Promise<boolean> {
    if (!this.isLeader()) return false;
    const want = desiredCondition(report, new Date().toISOString());
    const have = currentCondition(report.object);
    if (have && have.status === want.status && have.message === want.message && have.observedGeneration === want.observedGeneration) return false;
    const meta = report.object.metadata as { name: string; namespace?: string };
    const path = `/apis/networking.istio.io/v1/namespaces/${meta.namespace ?? 'default'}/${report.kind.plural}/${meta.name}/status`;
    const others = ((report.object.status as { conditions?: Array<{ type?: string }> } | undefined)?.conditions ?? []).filter((c) => c.type !== 'Accepted');
    const r = await this.rest.request('PATCH', path, { status: { conditions: [...others, want], ...(want.observedGeneration !== undefined ? { observedGeneration: want.observedGeneration } : {}) } }, 'application/merge-patch+json');
    if (r.status >= 300) {
      this.logger.warn({ object: `${report.kind.kind} ${meta.namespace}/${meta.name}`, status: r.status }, 'status update failed');
      return false;
    }
    return true;
  }
}
