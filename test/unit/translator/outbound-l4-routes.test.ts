/** Sidecar outbound tcp/tls route chains: Istio's static vs runtime predicates, terminal matches, dedup. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VirtualService } from '../../../src/api/index.js';
import { buildTcpRouteChains, buildTlsRouteChains, matchesOnSni, type L4Chain } from '../../../src/translator/outbound-l4-routes.js';
import { objects, sidecarProxy, snapshot } from './fixtures.js';

const FALLBACK = { name: 'fallback' };
const snap = snapshot('');
const proxy = sidecarProxy({ app: 'client', role: 'a' });

function vs(spec: string): VirtualService {
  return objects(`apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v, namespace: default}\nspec:\n  hosts: [db, "*.example"]\n${spec}`)[0] as VirtualService;
}

/** [match, cluster] per chain, for compact assertions. */
function summary(chains: readonly L4Chain[]): Array<[unknown, string]> {
  return chains.map((c) => {
    const tc = c.filters[0].typedConfig as { cluster?: string } | undefined;
    return [c.filterChainMatch ?? null, tc?.cluster ?? String(c.filters[0].name)];
  });
}

describe('buildTcpRouteChains', () => {
  it('no VirtualService: the service cluster', () => {
    assert.deepEqual(summary(buildTcpRouteChains(snap, proxy, undefined, 3306, FALLBACK)), [[null, 'fallback']]);
  });

  it('subnet-only matches add prefix-range chains, then the terminal route; routes after it are not reached', () => {
    const v = vs(`  tcp:
  - match: [{destinationSubnets: [10.1.0.0/16, 10.2.0.1]}, {destinationSubnets: [10.3.0.0/16], sourceLabels: {role: b}}]
    route: [{destination: {host: a.test, port: {number: 1}}}]
  - match: [{port: 9999}]
    route: [{destination: {host: skipped.test, port: {number: 1}}}]
  - match: [{sourceLabels: {role: a}}]
    route: [{destination: {host: b.test, port: {number: 1}}}]
  - route: [{destination: {host: never.test, port: {number: 1}}}]`);
    assert.deepEqual(summary(buildTcpRouteChains(snap, proxy, v, 3306, FALLBACK)), [
      [{ prefixRanges: [{ addressPrefix: '10.1.0.0', prefixLen: { value: 16 } }, { addressPrefix: '10.2.0.1', prefixLen: { value: 32 } }] }, 'outbound|1||a.test'],
      [null, 'outbound|1||b.test'],
    ]);
  });

  it('without a terminal route the service cluster is the default chain; equal subnet chains keep the first', () => {
    const v = vs(`  tcp:
  - match: [{destinationSubnets: [10.1.0.0/16]}]
    route: [{destination: {host: a.test, port: {number: 1}}}]
  - match: [{destinationSubnets: [10.1.0.0/16]}]
    route: [{destination: {host: b.test, port: {number: 1}}}]`);
    assert.deepEqual(summary(buildTcpRouteChains(snap, proxy, v, 3306, FALLBACK)).map(([, c]) => c), ['outbound|1||a.test', 'fallback']);
  });
});

describe('buildTlsRouteChains', () => {
  it('one chain per applicable match by SNI (and subnets); equal runtime matches keep the first; TLS inspector needed', () => {
    const v = vs(`  tls:
  - match: [{sniHosts: [B.example, a.example]}, {sniHosts: [c.example], port: 1}]
    route: [{destination: {host: a.test, port: {number: 443}}}]
  - match: [{sniHosts: [a.example, b.example]}, {sniHosts: [d.example], destinationSubnets: [10.0.0.0/8]}]
    route: [{destination: {host: b.test, port: {number: 443}}}]`);
    const chains = buildTlsRouteChains(snap, proxy, v, 443, FALLBACK);
    assert.deepEqual(summary(chains), [
      [{ serverNames: ['a.example', 'b.example'] }, 'outbound|443||a.test'],
      [{ serverNames: ['d.example'], prefixRanges: [{ addressPrefix: '10.0.0.0', prefixLen: { value: 8 } }] }, 'outbound|443||b.test'],
    ]);
    assert.equal(matchesOnSni(chains), true);
  });

  it('no applicable tls match: the service cluster without SNI', () => {
    const v = vs(`  tls:
  - match: [{sniHosts: [a.example], sourceLabels: {role: b}}]
    route: [{destination: {host: a.test, port: {number: 443}}}]`);
    const chains = buildTlsRouteChains(snap, proxy, v, 443, FALLBACK);
    assert.deepEqual(summary(chains), [[null, 'fallback']]);
    assert.equal(matchesOnSni(chains), false);
  });
});
