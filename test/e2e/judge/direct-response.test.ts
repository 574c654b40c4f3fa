/**
 * A VirtualService directResponse body larger than Envoy's default limit (4 KiB) must not make a
 * sidecar's or a gateway's route configuration unacceptable: both allow bodies up to 1 MiB, as
 * Istio's do. Envoy (`--mode validate`) is the judge.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewayProxy, must, sidecarProxy, syntheticMesh } from '../../../bench/mesh.js';
import { Registry } from '../../../src/registry/store.js';
import { translate } from '../../../src/translator/index.js';
import { envoyValidate } from '../../helpers/envoy-validate.js';

describe('directResponse bodies over 4 KiB', () => {
  it('are accepted by Envoy in a sidecar\'s and a gateway\'s route configuration', async () => {
    const size = { services: 3, virtualServices: 1, routes: 1 };
    const body = 'x'.repeat(8 * 1024);
    const vs = must({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'big', namespace: 'ns-1' }, spec: {
      hosts: ['svc-1.ns-1.svc.cluster.local'], gateways: ['mesh', 'istio-system/public'],
      http: [{ directResponse: { status: 200, body: { string: body } } }],
    } });
    const r = new Registry();
    r.applyAll([...syntheticMesh(size).filter((o) => o.kind !== 'VirtualService'), vs].map((object) => ({ type: 'add' as const, object })));
    for (const proxy of [sidecarProxy(0), gatewayProxy()]) {
      const res = translate(r.snapshot(), proxy);
      assert.ok(JSON.stringify(res.routes).includes(body), `${proxy.type}: the body is in its routes`);
      const verdict = await envoyValidate(res);
      assert.ok(verdict.ok, `${proxy.type}: ${verdict.output.slice(-2000)}`);
    }
  });
});
