/** DestinationRule lookup: Istio's namespace order, exportTo, most specific host, merging, workload selectors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DestinationRule } from '../../../src/api/index.js';
import { snapshotFromObjects } from '../../../src/registry/snapshot.js';
import { destinationRule as dr, objs, service, serviceEntry } from './fixtures.js';

const HOST = 'reviews.default.svc.cluster.local';
const reviewsSvc = service('reviews', 'default', [{ name: 'http', port: 9080 }]);

describe('destinationRuleFor: lookup order and exportTo', () => {
  const rules = [
    dr('root', 'istio-system', '*.svc.cluster.local'),
    dr('root-private', 'istio-system', '*.cluster.local', { exportTo: ['.'] }),
    dr('svc-ns', 'default', 'reviews'),
    dr('client', 'prod', HOST),
    dr('hidden', 'team', HOST, { exportTo: ['.'] }),
    dr('to-qa', 'shared', HOST, { exportTo: ['qa'] }),
  ];
  const snap = snapshotFromObjects(objs(reviewsSvc, ...rules.map((r) => r)));
  const table: Array<[string, string, string | undefined, string | undefined]> = [
    // [what, client namespace, explicit service namespace, expected rule]
    ['client namespace first', 'prod', undefined, 'client'],
    ['a rule private to the client namespace applies there', 'team', undefined, 'hidden'],
    ['then the service namespace (found from the service registry)', 'other', undefined, 'svc-ns'],
    ['explicit service namespace', 'other', 'default', 'svc-ns'],
    ['a rule exported to a namespace by name', 'qa', 'shared', 'to-qa'],
    ['… is invisible to others: root instead', 'other', 'shared', 'root'],
    ['the service namespace itself', 'default', undefined, 'svc-ns'],
    ['a root-namespace client sees the root private rule first', 'istio-system', undefined, 'root-private'],
  ];
  for (const [what, client, svcNs, want] of table) {
    it(`${what}: client ${client} → ${want}`, () => assert.equal(snap.destinationRuleFor(HOST, client, svcNs)?.metadata.name, want));
  }

  it('the root namespace catches hosts nobody else has a rule for; private root rules only apply to the root namespace', () => {
    assert.equal(snap.destinationRuleFor('ratings.default.svc.cluster.local', 'other')?.metadata.name, 'root');
    assert.equal(snap.destinationRuleFor('db.cluster.local', 'other'), undefined);
    assert.equal(snap.destinationRuleFor('db.cluster.local', 'istio-system')?.metadata.name, 'root-private');
  });

  it('a rule exported only to its own namespace is skipped for other clients', () => {
    const s = snapshotFromObjects(objs(reviewsSvc, dr('root', 'istio-system', '*.svc.cluster.local'), dr('local', 'default', 'reviews', { exportTo: ['.'] })));
    assert.equal(s.destinationRuleFor(HOST, 'other')?.metadata.name, 'root');
    assert.equal(s.destinationRuleFor(HOST, 'default')?.metadata.name, 'local');
  });

  it('exportTo is checked after the most specific host is chosen (Istio): a hidden exact rule does not fall back to a visible wildcard of the same namespace', () => {
    const s = snapshotFromObjects(objs(reviewsSvc,
      dr('exact-for-qa', 'default', 'reviews', { exportTo: ['qa'] }),
      dr('wild', 'default', '*.default.svc.cluster.local'),
      dr('root', 'istio-system', '*'),
    ));
    assert.equal(s.destinationRuleFor(HOST, 'qa')?.metadata.name, 'exact-for-qa');
    assert.equal(s.destinationRuleFor(HOST, 'other')?.metadata.name, 'root');
  });

  it('a short host name resolves in the rule namespace, not the client namespace', () => {
    const s = snapshotFromObjects(objs(reviewsSvc, dr('short', 'prod', 'reviews')));
    assert.equal(s.destinationRuleFor(HOST, 'prod'), undefined);
    assert.equal(s.destinationRuleFor('reviews.prod.svc.cluster.local', 'prod')?.metadata.name, 'short');
  });

  it('a ServiceEntry host finds rules in the ServiceEntry namespace', () => {
    const s = snapshotFromObjects(objs(
      serviceEntry('ext', 'egress', { hosts: ['api.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS' }),
      dr('ext', 'egress', 'api.example.com'),
    ));
    assert.equal(s.destinationRuleFor('api.example.com', 'default')?.metadata.name, 'ext');
  });
});

describe('destinationRuleFor: most specific host', () => {
  const snap = snapshotFromObjects(objs(
    dr('any', 'ns', '*'),
    dr('com', 'ns', '*.com'),
    dr('example', 'ns', '*.example.com'),
    dr('exact', 'ns', 'a.example.com'),
  ));
  const table: Array<[string, string | undefined]> = [
    ['a.example.com', 'exact'], ['b.example.com', 'example'], ['x.b.example.com', 'example'], ['example.com', 'com'],
    ['other.org', 'any'], ['*.example.com', 'example'], ['*.b.example.com', 'example'], ['*.org', 'any'],
  ];
  for (const [host, want] of table) it(`${host} → ${want}`, () => assert.equal(snap.destinationRuleFor(host, 'ns')?.metadata.name, want));
});

describe('destinationRuleFor: same-host rules of a namespace merge', () => {
  const subsets = (d: DestinationRule | undefined) => (d?.spec.subsets ?? []).map((s) => `${s.name}:${s.labels?.version ?? ''}`);

  it('subsets are concatenated oldest first (first definition wins), the first top-level traffic policy is kept', () => {
    const snap = snapshotFromObjects(objs(
      dr('b-newer', 'default', 'reviews', { subsets: [{ name: 'v2', labels: { version: 'v2' } }, { name: 'v1', labels: { version: 'other' } }], trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }, '2026-01-02T00:00:00Z'),
      dr('a-older', 'default', 'reviews.default.svc.cluster.local', { subsets: [{ name: 'v1', labels: { version: 'v1' } }] }, '2026-01-01T00:00:00Z'),
      dr('c-newest', 'default', 'reviews', { trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }, '2026-01-03T00:00:00Z'),
    ));
    const got = snap.destinationRuleFor(HOST, 'default');
    assert.equal(got?.metadata.name, 'a-older');
    assert.deepEqual(subsets(got), ['v1:v1', 'v2:v2']);
    assert.equal(got?.spec.trafficPolicy?.loadBalancer?.simple, 'RANDOM');
    assert.deepEqual(snap.destinationRules.map((d) => d.metadata.name), ['a-older', 'b-newer', 'c-newest'], 'the listed rules stay unmerged');
    assert.equal(snap.destinationRules[0].spec.subsets?.length, 1);
  });

  it('rules with different exportTo do not merge; a client sees the one exported to it', () => {
    const snap = snapshotFromObjects(objs(
      dr('public', 'default', 'reviews', { subsets: [{ name: 'v1', labels: { version: 'v1' } }] }, '2026-01-01T00:00:00Z'),
      dr('qa-only', 'default', 'reviews', { exportTo: ['qa'], subsets: [{ name: 'v2', labels: { version: 'v2' } }] }, '2026-01-02T00:00:00Z'),
    ));
    assert.deepEqual(subsets(snap.destinationRuleFor(HOST, 'prod', 'default')), ['v1:v1']);
    assert.equal(snap.destinationRuleFor(HOST, 'qa', 'default')?.metadata.name, 'qa-only');
  });
});

describe('destinationRuleFor: workloadSelector', () => {
  const snap = snapshotFromObjects(objs(
    dr('general', 'default', 'reviews', { subsets: [{ name: 'v1', labels: { version: 'v1' } }] }),
    dr('for-canary', 'default', 'reviews', { workloadSelector: { matchLabels: { track: 'canary' } }, exportTo: ['.'], trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }),
    dr('legacy-spelling', 'default', 'reviews', { workloadSelector: { labels: { track: 'legacy' } }, exportTo: ['.'] }),
    dr('root', 'istio-system', '*.cluster.local'),
  ));
  const table: Array<[string, string, Record<string, string> | undefined, string | undefined]> = [
    ['matching workload in the rule namespace', 'default', { track: 'canary', app: 'x' }, 'for-canary'],
    ['other workload in the namespace', 'default', { track: 'stable' }, 'general'],
    ['selector spelled labels (older form) still selects', 'default', { track: 'legacy' }, 'legacy-spelling'],
    ['no labels given', 'default', undefined, 'general'],
    ['a selector never applies to other namespaces', 'prod', { track: 'canary' }, 'general'],
  ];
  for (const [what, client, labels, want] of table) {
    it(what, () => assert.equal(snap.destinationRuleFor(HOST, client, 'default', labels)?.metadata.name, want));
  }
});
