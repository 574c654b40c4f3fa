import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNodeId, type ProxyInfo } from '../../../src/proxy/node.js';
import { applyLocalityLb, localityMatches, usesLocalityWeights, type LocalityGroup } from '../../../src/translator/locality-lb.js';

function proxyAt(locality: string): ProxyInfo {
  const r = parseNodeId('router~127.0.0.1~gw-0.edge~edge.svc.cluster.local', { LABELS: { 'istio-locality': locality.replace(/\//g, '.') } });
  assert.ok(r.ok);
  return r.value;
}

const group = (locality: string, weight = 1): LocalityGroup => ({ locality, lbEndpoints: [{ endpoint: locality }], weight });
const groups = [group('us-east/zone1/a'), group('us-east/zone1/b'), group('us-east/zone2'), group('eu-west/zone1'), group('ap-south/zone1')];

describe('locality load balancing', () => {
  it('LocalityMatch patterns', () => {
    assert.ok(localityMatches('us-east/zone1/a', 'us-east/*'));
    assert.ok(localityMatches('us-east/zone1/a', 'us-east'));
    assert.ok(localityMatches('us-east/zone1/a', '*'));
    assert.ok(!localityMatches('us-east/zone1/a', 'us-east/zone2/*'));
  });

  it('failover priorities: subzone, zone, region, other; failover "to" region before the rest; dense', () => {
    const out = applyLocalityLb(groups, proxyAt('us-east/zone1/a'), { failover: [{ from: 'us-east', to: 'eu-west' }] }, true);
    assert.deepEqual(out.map((g) => g.priority), [0, 1, 2, 3, 4]);
    const noRule = applyLocalityLb(groups, proxyAt('us-east/zone2'), undefined, true);
    assert.deepEqual(noRule.map((g) => g.priority), [1, 1, 0, 2, 2]);
  });

  it('no failover without outlier detection, or when disabled', () => {
    assert.deepEqual(applyLocalityLb(groups, proxyAt('us-east/zone1/a'), undefined, false), groups);
    assert.deepEqual(applyLocalityLb(groups, proxyAt('us-east/zone1/a'), { enabled: false }, true), groups);
  });

  it('distribute: weights split over matching localities; unmatched localities dropped; only for a matching "from"', () => {
    const setting = { distribute: [{ from: 'us-east/zone1/*', to: { 'us-east/zone1/*': 80, 'eu-west/*': 20 } }] };
    const out = applyLocalityLb(groups, proxyAt('us-east/zone1/a'), setting, false);
    assert.deepEqual(out.map((g) => [g.locality, g.weight]), [['us-east/zone1/a', 40], ['us-east/zone1/b', 40], ['eu-west/zone1', 20]]);
    assert.ok(usesLocalityWeights(proxyAt('us-east/zone1/a'), setting));
    assert.deepEqual(applyLocalityLb(groups, proxyAt('eu-west/zone1'), setting, false), groups);
    assert.ok(!usesLocalityWeights(proxyAt('eu-west/zone1'), setting));
  });

  it('failoverPriority: endpoints split by how many listed labels they share with the proxy (label=value overrides)', () => {
    const g: LocalityGroup = { locality: 'us-east/zone1', lbEndpoints: ['a', 'b', 'c', 'd'].map((n) => ({ endpoint: n, loadBalancingWeight: { value: 1 } })), weight: 4,
      endpointLabels: [{ net: 'n1', tier: 'gold' }, { net: 'n1', tier: 'silver' }, { net: 'n2', tier: 'gold' }, { net: 'n1', tier: 'gold' }] };
    const proxy = parseNodeId('router~127.0.0.1~gw-0.edge~edge.svc.cluster.local', { LABELS: { net: 'n1' } });
    assert.ok(proxy.ok);
    const out = applyLocalityLb([g], proxy.value, { failoverPriority: ['net', 'tier=gold'] }, true);
    assert.deepEqual(out.map((x) => [x.lbEndpoints.map((e) => e.endpoint).join(''), x.priority, x.weight]), [['ad', 0, 2], ['b', 1, 1], ['c', 2, 1]]);
    assert.deepEqual(applyLocalityLb([g], proxy.value, { failoverPriority: ['net'] }, false), [g]);
  });
});
