/**
 * The translation memo (shared outbound builds, interning, and the parts it keeps when only kinds
 * they never read changed) must never change what a proxy gets: over a random sequence of changes
 * of every kind, each proxy's translation with the memo equals its translation without it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpointSlice, must, syntheticMesh } from '../../../bench/mesh.js';
import type { Resource } from '../../../src/api/index.js';
import { parseNodeId, type ProxyInfo } from '../../../src/proxy/node.js';
import { Registry } from '../../../src/registry/store.js';
import { translate, TranslationMemo } from '../../../src/translator/index.js';

/** A small seeded generator (mulberry32): the same sequence on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sidecar(ip: string, pod: string, ns: string, labels: Record<string, string>): ProxyInfo {
  const p = parseNodeId(`sidecar~${ip}~${pod}.${ns}~${ns}.svc.cluster.local`);
  assert.ok(p.ok);
  return { ...p.value, labels };
}

const SIZE = { services: 12, virtualServices: 3, routes: 9 };

/** One random change of one kind (returns the event and a label for failure messages). */
function randomChange(rnd: () => number, step: number): { event: { type: 'add' | 'update' | 'delete'; object: Resource }; what: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const del = rnd() < 0.2;
  const kind = pick(['VirtualService', 'VirtualService', 'DestinationRule', 'Sidecar', 'Service', 'EndpointSlice', 'Gateway', 'Pod', 'Secret']);
  const svc = Math.floor(rnd() * SIZE.services);
  const ns = `ns-${svc % 10}`;
  let object: Resource;
  switch (kind) {
    case 'VirtualService':
      object = must({ apiVersion: 'networking.istio.io/v1', kind, metadata: { name: `rnd-${svc % 3}`, namespace: ns }, spec: {
        hosts: [`svc-${svc}.${ns}.svc.cluster.local`], ...(rnd() < 0.5 ? { gateways: ['mesh', 'istio-system/public'] } : {}),
        http: [{ match: [{ uri: { prefix: `/s${step}` }, ...(rnd() < 0.3 ? { sourceLabels: { version: 'v2' } } : {}) }],
          route: [{ destination: { host: `svc-${(svc + 1) % SIZE.services}.ns-${(svc + 1) % 10}.svc.cluster.local`, ...(rnd() < 0.4 ? { subset: 'v1' } : {}) } }],
          ...(rnd() < 0.5 ? { headers: { request: { set: { 'x-step': String(step) } } } } : {}) }],
      } });
      break;
    case 'DestinationRule':
      object = must({ apiVersion: 'networking.istio.io/v1', kind, metadata: { name: `rnd-dr-${svc % 4}`, namespace: pick(['ns-1', ns]) }, spec: {
        host: `svc-${svc}.${ns}.svc.cluster.local`, subsets: [{ name: 'v1', labels: { version: 'v1' } }],
        trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 + step } }, ...pick([{}, { loadBalancer: { simple: 'LEAST_REQUEST' } }, { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } }]) },
        ...(rnd() < 0.3 ? { workloadSelector: { matchLabels: { team: 'blue' } } } : {}),
      } });
      break;
    case 'Sidecar':
      object = must({ apiVersion: 'networking.istio.io/v1', kind, metadata: { name: 'default', namespace: pick(['ns-0', 'ns-1']) }, spec: {
        egress: [{ hosts: [pick(['./*', '*/*', 'ns-2/*'])] }],
        ...(rnd() < 0.4 ? { ingress: [{ port: { number: 9000 + (step % 3), protocol: 'HTTP', name: 'in' }, defaultEndpoint: '127.0.0.1:8080' }] } : {}),
      } });
      break;
    case 'Service':
      object = must({ apiVersion: 'v1', kind, metadata: { name: `svc-${svc}`, namespace: ns }, spec: {
        // Now and then a new cluster IP: the service's virtual host domains change.
        clusterIP: `172.20.${rnd() < 0.3 ? step : 0}.${svc}`, ports: [{ name: 'http', port: 8080, targetPort: 8080 }, ...(rnd() < 0.5 ? [{ name: 'grpc', port: 9090, targetPort: 9090 }] : [])],
      } });
      break;
    case 'EndpointSlice':
      // Now and then svc-1 (ns-1) gains or loses sidecar b as an endpoint: b's inbound side changes.
      object = rnd() < 0.3
        ? must({ ...endpointSlice(1), endpoints: ['10.0.1.10', ...(rnd() < 0.5 ? ['10.250.0.2'] : [])].map((a) => ({ addresses: [a], conditions: { ready: true } })) } as unknown)
        : endpointSlice(svc, rnd() < 0.3 ? 0 : step);
      break;
    case 'Gateway':
      object = must({ apiVersion: 'networking.istio.io/v1', kind, metadata: { name: 'public', namespace: 'istio-system' }, spec: {
        selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 8080 + (step % 2), name: 'http', protocol: 'HTTP' }, hosts: ['*/*'] }],
      } });
      break;
    case 'Pod':
      object = must({ apiVersion: 'v1', kind, metadata: { name: 'unlabelled', namespace: 'ns-1', labels: { app: 'x', ...(rnd() < 0.5 ? { version: 'v2' } : {}), ...(rnd() < 0.5 ? { team: 'blue' } : {}) } },
        status: { phase: 'Running', podIP: '10.250.9.9' } });
      break;
    default:
      object = must({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `s-${svc % 2}`, namespace: 'ns-1' }, type: 'Opaque', data: { k: Buffer.from(String(step)).toString('base64') } });
  }
  return { event: { type: del ? 'delete' : 'update', object }, what: `${del ? 'delete' : 'update'} ${kind}/${object.metadata.namespace}/${object.metadata.name}` };
}

describe('translation memo: equal to translating without it', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`over 60 random changes of every kind (seed ${seed})`, () => {
      const rnd = random(seed);
      const r = new Registry();
      r.applyAll(syntheticMesh(SIZE).map((object) => ({ type: 'add' as const, object })));
      const proxies = [
        sidecar('10.0.1.10', 'a', 'ns-1', { app: 'svc-1' }), // an endpoint of svc-1: has inbound listeners
        sidecar('10.250.0.2', 'b', 'ns-1', { app: 'other' }),
        sidecar('10.250.0.3', 'c', 'ns-1', { app: 'other', version: 'v2' }),
        sidecar('10.250.0.4', 'd', 'ns-0', { app: 'x', team: 'blue' }),
        sidecar('10.250.9.9', 'unlabelled', 'ns-1', {}), // labels from its pod
      ];
      const memo = new TranslationMemo();
      for (let step = 1; step <= 60; step++) {
        const { event, what } = randomChange(rnd, step);
        r.apply(event);
        const snapshot = r.snapshot();
        // Not every proxy every time: memo entries then span several changes.
        for (const p of proxies) {
          if (rnd() < 0.25) continue;
          assert.deepEqual(translate(snapshot, p, memo), translate(snapshot, p), `step ${step} (${what}), ${p.id}`);
        }
      }
    });
  }
});
