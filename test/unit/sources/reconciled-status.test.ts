/**
 * The Reconciled status writer against an in-memory apiserver: coalesced passes, writes only on
 * change, other conditions kept, a stale False condition cleared, nothing written when not leader.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { ReconciledStatus, reconciledCondition, type ObjectRejectionsView } from '../../../src/sources/kube/reconciled-status.js';
import type { KubeRest, RestResponse } from '../../../src/sources/kube/rest.js';
import { eventually } from '../../helpers/wait.js';

type Obj = Record<string, unknown>;

/** One object store answering GET and merge-PATCH (with resourceVersion conflicts) on status paths. */
function fakeApi(objects: Record<string, Obj>) {
  const patches: Array<{ path: string; body: Obj }> = [];
  let rv = 1;
  const rest = {
    async request<T>(method: string, path: string, body?: unknown): Promise<RestResponse<T>> {
      const obj = objects[path];
      if (!obj) return { status: 404, body: {} as T };
      if (method === 'GET') return { status: 200, body: structuredClone(obj) as T };
      const b = body as { metadata?: { resourceVersion?: string }; status: Obj };
      if (b.metadata?.resourceVersion !== (obj.metadata as { resourceVersion: string }).resourceVersion) return { status: 409, body: {} as T };
      patches.push({ path, body: b });
      objects[path] = { ...obj, metadata: { ...(obj.metadata as Obj), resourceVersion: String(++rv) }, status: { ...((obj.status as Obj | undefined) ?? {}), ...b.status } };
      return { status: 200, body: objects[path] as T };
    },
  } as unknown as KubeRest;
  return { rest, patches };
}

const VS_PATH = '/apis/networking.istio.io/v1/namespaces/default/virtualservices/api/status';
const DR_PATH = '/apis/networking.istio.io/v1/namespaces/default/destinationrules/old/status';
const accepted = { type: 'Accepted', status: 'True', reason: 'Valid', message: 'accepted by meshpilot', lastTransitionTime: '2026-01-01T00:00:00Z' };
const rejection = (proxy: string): ObjectRejectionsView => ({ ref: { kind: 'VirtualService', namespace: 'default', name: 'api' }, rejections: [{ proxy, kind: 'routes', name: 'http.80', message: 'regex too big' }] });
const conds = (o: Obj) => ((o.status as { conditions?: Array<{ type: string; status: string; reason: string; message: string }> }).conditions ?? []);

describe('ReconciledStatus', () => {
  it('the condition names each rejecting proxy with the resource and error, truncated; True when none', () => {
    const c = reconciledCondition([...rejection('gw-a').rejections, { proxy: 'gw-b', kind: 'clusters', name: 'outbound|80||x', message: `x${'y'.repeat(500)}` }], 'now');
    assert.deepEqual([c.type, c.status, c.reason], ['Reconciled', 'False', 'Rejected']);
    assert.match(c.message, /^rejected by 2 proxy\(ies\): gw-a \(RouteConfiguration http\.80: regex too big\), gw-b \(Cluster outbound\|80\|\|x: xy+\.\.\.\)$/);
    assert.ok(c.message.length < 400);
    assert.deepEqual([reconciledCondition([], 'now').status, reconciledCondition(undefined, 'now').reason], ['True', 'NotRejected']);
  });

  it('coalesces changes, writes on change only, keeps other conditions, clears when rejections end', async () => {
    const objects: Record<string, Obj> = { [VS_PATH]: { metadata: { name: 'api', namespace: 'default', resourceVersion: '1' }, status: { conditions: [accepted] } } };
    const { rest, patches } = fakeApi(objects);
    let current = new Map<string, ObjectRejectionsView>([['VirtualService/default/api', rejection('gw-a')]]);
    const writer = new ReconciledStatus({ rest, logger: silentLogger, isLeader: () => true, rejections: () => current, intervalMs: 5 });
    for (let i = 0; i < 5; i++) writer.changed();
    await eventually(async () => patches.length === 1, 'one write');
    assert.deepEqual(conds(objects[VS_PATH]).map((c) => [c.type, c.status]), [['Accepted', 'True'], ['Reconciled', 'False']]);
    writer.changed();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(patches.length, 1, 'unchanged: not written again');
    current = new Map();
    writer.changed();
    await eventually(async () => patches.length === 2, 'cleared');
    assert.deepEqual(conds(objects[VS_PATH]).map((c) => [c.type, c.status, c.reason]), [['Accepted', 'True', 'Valid'], ['Reconciled', 'True', 'NotRejected']]);
    writer.stop();
  });

  it('a False condition left by an earlier leader is cleared once seen; a non-leader writes nothing', async () => {
    const stale = { metadata: { name: 'old', namespace: 'default', resourceVersion: '7' }, status: { conditions: [accepted, { type: 'Reconciled', status: 'False', reason: 'Rejected', message: 'rejected by 1 proxy(ies): gone' }] } };
    const objects: Record<string, Obj> = { [DR_PATH]: structuredClone(stale) };
    const { rest, patches } = fakeApi(objects);
    let leader = false;
    const writer = new ReconciledStatus({ rest, logger: silentLogger, isLeader: () => leader, rejections: () => new Map(), intervalMs: 5 });
    writer.observe('DestinationRule', stale);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(patches.length, 0, 'not the leader');
    leader = true;
    writer.changed();
    await eventually(async () => patches.length === 1, 'cleared by the new leader');
    assert.deepEqual(conds(objects[DR_PATH]).map((c) => [c.type, c.status]), [['Accepted', 'True'], ['Reconciled', 'True']]);
    writer.stop();
  });
});
