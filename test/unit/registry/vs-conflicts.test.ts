import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VirtualService } from '../../../src/api/index.js';
import { meshHostConflicts } from '../../../src/registry/vs-conflicts.js';

const vs = (name: string, ns: string, hosts: string[], http = true) =>
  ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: ns }, spec: { hosts, ...(http ? { http: [{ route: [{ destination: { host: 'x' } }] }] } : { tcp: [{ route: [{ destination: { host: 'x' } }] }] }) } }) as VirtualService;

describe('VirtualServices claiming one host for sidecars', () => {
  it('names the host, the VirtualService sidecars use and the one they ignore; short names resolve in their namespace', () => {
    const notes = meshHostConflicts([vs('old', 'default', ['web']), vs('new', 'default', ['web.default.svc.cluster.local']), vs('other', 'team', ['web'])], 'cluster.local');
    assert.deepEqual(notes, ['host web.default.svc.cluster.local: VirtualServices default/old and default/new both route it for sidecars (mesh); sidecars that see both use default/old (older, or first by name) and ignore the http routes of default/new']);
  });
  it('no note without a second http claimant', () => {
    assert.deepEqual(meshHostConflicts([vs('a', 'default', ['web']), vs('b', 'default', ['web'], false), vs('c', 'default', ['api'])], 'cluster.local'), []);
  });
});
