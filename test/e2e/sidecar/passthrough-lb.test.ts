/**
 * DestinationRule loadBalancer PASSTHROUGH through a real capturing sidecar: a client that dials one
 * pod's address directly (Host: the service) reaches exactly that pod, because the cluster connects
 * to the original destination; without PASSTHROUGH the sidecar load-balances the same requests over
 * the service's pods.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MeshHarness } from '../../helpers/mesh-harness.js';
import { podNetworkUnsupportedReason } from '../../helpers/pod-network.js';
import { eventually } from '../gateway/fixture.js';

const unsupported = podNetworkUnsupportedReason();

describe('DestinationRule PASSTHROUGH load balancing through a sidecar', { skip: unsupported }, () => {
  const h = new MeshHarness();
  const ip = (p: string) => h.net.pod(p).ip;

  const service = (name: string, vipIndex: number, pods: string[]) => [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP: h.net.serviceIp(vipIndex), ports: [{ name: 'http', port: 8080 }] } },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: pods.map((p) => ({ addresses: [ip(p)], conditions: { ready: true } })) },
  ];

  before(async () => {
    await h.start(['client', 'a1', 'a2', 'b1', 'b2']);
    h.cfg.write('services.yaml', [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: 'default', labels: { app: 'client' } }, status: { podIP: ip('client'), phase: 'Running' } },
      ...service('direct', 10, ['a1', 'a2']),
      ...service('balanced', 11, ['b1', 'b2']),
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'direct', namespace: 'default' }, spec: { host: 'direct', trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } } } },
      { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'balanced', namespace: 'default' }, spec: { host: 'balanced', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } },
    ]);
    for (const p of ['a1', 'a2', 'b1', 'b2']) h.httpApp(p, p, 8080);
    await h.sidecar('client', { app: 'client' });
  });

  after(() => h.stop());

  it('PASSTHROUGH: requests dialled to one pod reach that pod only; ROUND_ROBIN spreads them', async () => {
    let direct = { counts: {} as Record<string, number>, failures: [] as string[] };
    await eventually(async () => {
      direct = await h.http('client', `http://${ip('a2')}:8080/`, { host: 'direct.default.svc.cluster.local' }, 20);
      return direct.counts.a2 === 20;
    }, 'passthrough to a2', 20_000).catch(() => undefined);
    assert.deepEqual(direct.counts, { a2: 20 }, JSON.stringify(direct));
    const balanced = await h.http('client', `http://${ip('b2')}:8080/`, { host: 'balanced.default.svc.cluster.local' }, 20);
    assert.deepEqual(balanced.failures, []);
    assert.ok((balanced.counts.b1 ?? 0) >= 5 && (balanced.counts.b2 ?? 0) >= 5, `the same kind of request is balanced without PASSTHROUGH: ${JSON.stringify(balanced.counts)}`);
    const clusters = (await h.configOf('client')).clusters;
    assert.equal(clusters.find((c) => c.name === 'outbound|8080||direct.default.svc.cluster.local')?.value.type, 'ORIGINAL_DST');
    await h.assertNoNack();
  });
});
