import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HTTPRoute, VirtualService } from '../../../src/api/index.js';
import { mergeRule, resolveDelegation } from '../../../src/registry/delegates.js';

const dest = (host: string) => [{ destination: { host } }];

describe('VirtualService delegation (Istio merge rules)', () => {
  const cases: Array<{ name: string; root: HTTPRoute; leaf: HTTPRoute; want: HTTPRoute | undefined }> = [
    { name: 'leaf without match takes the root match', root: { match: [{ uri: { prefix: '/a' } }], delegate: { name: 'd' } }, leaf: { route: dest('x') }, want: { match: [{ uri: { prefix: '/a' } }], route: dest('x') } },
    { name: 'narrower prefix fits', root: { match: [{ uri: { prefix: '/a' } }], delegate: { name: 'd' } }, leaf: { match: [{ uri: { prefix: '/a/b' } }], route: dest('x') }, want: { match: [{ uri: { prefix: '/a/b' } }], route: dest('x') } },
    { name: 'exact under the prefix fits', root: { match: [{ uri: { prefix: '/a' } }], delegate: { name: 'd' } }, leaf: { match: [{ uri: { exact: '/a/x' } }], route: dest('x') }, want: { match: [{ uri: { exact: '/a/x' } }], route: dest('x') } },
    { name: 'wider prefix conflicts', root: { match: [{ uri: { prefix: '/a/b' } }], delegate: { name: 'd' } }, leaf: { match: [{ uri: { prefix: '/a' } }], route: dest('x') }, want: undefined },
    { name: 'regex on either side conflicts', root: { match: [{ uri: { regex: '/a.*' } }], delegate: { name: 'd' } }, leaf: { match: [{ uri: { prefix: '/a' } }], route: dest('x') }, want: undefined },
    { name: 'different header value conflicts', root: { match: [{ headers: { u: { exact: 'a' } } }], delegate: { name: 'd' } }, leaf: { match: [{ headers: { u: { exact: 'b' } } }], route: dest('x') }, want: undefined },
    { name: 'headers merge; root policies fill gaps; names join', root: { name: 'r', match: [{ uri: { prefix: '/a' }, headers: { u: { exact: 'a' } } }], delegate: { name: 'd' }, timeout: '3s', headers: { response: { set: { a: '1' } } } },
      leaf: { name: 'l', match: [{ headers: { v: { exact: 'b' } } }], route: dest('x'), timeout: '1s' },
      want: { name: 'r-l', match: [{ uri: { prefix: '/a' }, headers: { u: { exact: 'a' }, v: { exact: 'b' } } }], route: dest('x'), timeout: '1s', headers: { response: { set: { a: '1' } } } } },
    { name: 'port mismatch conflicts', root: { match: [{ port: 80 }], delegate: { name: 'd' } }, leaf: { match: [{ port: 81 }], route: dest('x') }, want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(mergeRule(c.root, c.leaf), c.want));

  it('replaces delegating rules, qualifies delegate hosts in their namespace, and reports what it drops', () => {
    const vs = (name: string, ns: string, spec: VirtualService['spec']) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: ns }, spec }) as VirtualService;
    const root = vs('root', 'a', { hosts: ['h'], http: [
      { match: [{ uri: { prefix: '/d' } }], delegate: { name: 'd', namespace: 'b' } },
      { match: [{ uri: { prefix: '/m' } }], delegate: { name: 'missing' } },
      { match: [{ uri: { prefix: '/p' } }], delegate: { name: 'p', namespace: 'b' } },
      { route: dest('fallback') },
    ] });
    const d = vs('d', 'b', { http: [{ route: dest('svc') }] });
    const p = vs('p', 'b', { exportTo: ['.'], http: [{ route: dest('svc') }] });
    const r = resolveDelegation([root, d, p], 'cluster.local');
    assert.deepEqual(r.virtualServices[0].spec.http, [{ match: [{ uri: { prefix: '/d' } }], route: dest('svc.b.svc.cluster.local') }, { route: dest('fallback') }]);
    assert.equal(r.virtualServices[1], d);
    assert.equal(r.notes.length, 2);
    assert.match(r.notes[0], /VirtualService a\/root: spec\.http\[1\]\.delegate: VirtualService a\/missing not found/);
    assert.match(r.notes[1], /VirtualService b\/p is not exported to namespace a/);
  });
});
