/** Rejection reports between replicas, against an in-memory Lease store. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import type { ObjectRejectionsView } from '../../../src/sources/kube/reconciled-status.js';
import { mergeRejections, RejectionReports, reportName } from '../../../src/sources/kube/rejection-reports.js';
import type { KubeRest, RestResponse } from '../../../src/sources/kube/rest.js';
import { eventually } from '../../helpers/wait.js';

type Lease = { metadata: { name: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { holderIdentity?: string; renewTime?: string } };
const BASE = '/apis/coordination.k8s.io/v1/namespaces/ns/leases';

function leaseStore() {
  const leases = new Map<string, Lease>();
  let rv = 0;
  const rest = {
    async request<T>(method: string, path: string, body?: unknown): Promise<RestResponse<T>> {
      const reply = (status: number, b: unknown = {}) => ({ status, body: b as T });
      if (method === 'GET' && path.startsWith(`${BASE}?`)) return reply(200, { items: [...leases.values()].filter((l) => l.metadata.labels?.['meshpilot.io/rejection-report'] === 'true') });
      const name = path.slice(BASE.length + 1);
      if (method === 'GET') return leases.has(name) ? reply(200, structuredClone(leases.get(name))) : reply(404);
      if (method === 'DELETE') return reply(leases.delete(name) ? 200 : 404);
      const lease = structuredClone(body as Lease);
      if (method === 'POST') {
        if (leases.has(lease.metadata.name)) return reply(409);
      } else if (leases.get(name)?.metadata.resourceVersion !== lease.metadata.resourceVersion) return reply(409);
      lease.metadata.resourceVersion = String(++rv);
      leases.set(lease.metadata.name, lease);
      return reply(method === 'POST' ? 201 : 200, lease);
    },
  } as unknown as KubeRest;
  return { rest, leases };
}

const view = (name: string, proxy: string): ObjectRejectionsView => ({ ref: { kind: 'VirtualService', namespace: 'default', name }, rejections: [{ proxy, kind: 'routes', name: 'http.80', message: 'bad regex' }] });
const key = (name: string) => `VirtualService/default/${name}`;

describe('rejection reports', () => {
  it('merges rejections of several replicas per object; names a Lease per identity', () => {
    const merged = mergeRejections(new Map([[key('a'), view('a', 'p2')]]), new Map([[key('a'), view('a', 'p1')], [key('b'), view('b', 'p3')]]));
    assert.deepEqual([...merged.keys()].sort(), [key('a'), key('b')]);
    assert.deepEqual(merged.get(key('a'))!.rejections.map((r) => r.proxy), ['p1', 'p2']);
    assert.equal(reportName('Host_1-4242'), 'meshpilot-rejections-host-1-4242');
  });

  it('a replica publishes its rejections and deletes its report when they end; the leader reads the others\' fresh reports', async () => {
    const { rest, leases } = leaseStore();
    let localB = new Map([[key('api'), view('api', 'proxy-on-b')]]);
    const b = new RejectionReports({ rest, logger: silentLogger, namespace: 'ns', identity: 'b', local: () => localB, isLeader: () => false, onRemoteChange: () => undefined, periodMs: 20 });
    let remoteChanges = 0;
    const a = new RejectionReports({ rest, logger: silentLogger, namespace: 'ns', identity: 'a', local: () => new Map(), isLeader: () => true, onRemoteChange: () => remoteChanges++, periodMs: 20 });
    // A dead replica's report: too old to count, and removed.
    leases.set('meshpilot-rejections-dead', { metadata: { name: 'meshpilot-rejections-dead', resourceVersion: '0', labels: { 'meshpilot.io/rejection-report': 'true' }, annotations: { 'meshpilot.io/rejections': JSON.stringify([view('old', 'gone')]) } }, spec: { holderIdentity: 'dead', renewTime: '2020-01-01T00:00:00.000000Z' } });
    b.start();
    a.start();
    try {
      await eventually(async () => a.remote().has(key('api')), 'the leader sees replica b\'s rejection');
      assert.deepEqual(a.remote().get(key('api'))!.rejections.map((r) => r.proxy), ['proxy-on-b']);
      assert.ok(!a.remote().has(key('old')), 'a stale report does not count');
      await eventually(async () => !leases.has('meshpilot-rejections-dead'), 'the stale report is removed');
      assert.ok(remoteChanges >= 1);
      assert.ok(!leases.has(reportName('a')), 'nothing rejected: no report');
      localB = new Map();
      b.localChanged();
      await eventually(async () => !leases.has(reportName('b')), 'replica b\'s report deleted');
      await eventually(async () => a.remote().size === 0, 'the leader sees no remote rejection');
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
