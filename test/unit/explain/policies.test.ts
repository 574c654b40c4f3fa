/** What a matched route does besides choosing clusters, read back from the translator's route. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainRequest } from '../../../src/explain/http.js';
import { parseRequest } from '../../../src/explain/request.js';
import { translate } from '../../../src/translator/index.js';
import { service, sidecarProxy, snapshot } from '../translator/fixtures.js';

const snap = snapshot([
  service('api', 'default', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1' }]),
  service('shadow', 'default', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.2' }]),
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: default}
spec:
  hosts: [api]
  http:
  - name: all-of-it
    rewrite: {uri: /v2/, authority: api.internal}
    timeout: 3s
    retries: {attempts: 4, perTryTimeout: 1s, retryOn: 5xx}
    mirror: {host: shadow}
    mirrorPercentage: {value: 25}
    fault: {abort: {httpStatus: 503, percentage: {value: 5}}}
    route: [{destination: {host: api}}]`,
].join('\n---\n'));

describe('route policies in an explanation', () => {
  it('rewrite, authority, timeout, retries, mirror and fault, each in words', () => {
    const proxy = sidecarProxy({ app: 'client' });
    const req = parseRequest(['http://api:8080/x']);
    if (!req.ok) throw new Error(req.error);
    const e = explainRequest({ proxy: { id: proxy.id, type: proxy.type }, resources: translate(snap, proxy), request: req.value });
    assert.deepEqual(e.route?.policies, [
      'path prefix rewritten to "/v2/"',
      'authority rewritten to "api.internal"',
      'timeout 3s',
      'retries: 4 on 5xx, 1s per try',
      'mirrored to outbound|8080||shadow.default.svc.cluster.local (25%)',
      'fault: 5% of requests aborted with HTTP 503',
    ]);
  });
});
