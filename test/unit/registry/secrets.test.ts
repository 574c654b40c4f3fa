/** TLS material from Kubernetes Secrets, read as Istio's credential controller reads it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { K8sSecret } from '../../../src/api/index.js';
import { secretFromKubernetes } from '../../../src/registry/secrets.js';
import { snapshotFromObjects } from '../../../src/registry/snapshot.js';
import { OTHER_KEY, TEST_CERT, TEST_KEY } from '../test-pem.js';
import { b64, objs, secret } from './fixtures.js';

type Fields = Parameters<typeof secret>[2];

describe('secretFromKubernetes', () => {
  // Distinct but valid strings: the same PEM with extra trailing newlines.
  const [C, T, A, B] = [TEST_CERT, `${TEST_CERT}\n`, `${TEST_CERT}\n\n`, `${TEST_CERT}\n\n\n`];
  const [K, TK] = [TEST_KEY, `${TEST_KEY}\n`];
  const table: Array<[string, Fields, { cert?: string; key?: string; ca?: string; problems?: string[] }]> = [
    ['kubernetes.io/tls with ca.crt', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64(C), 'tls.key': b64(K), 'ca.crt': b64(A) } }, { cert: C, key: K, ca: A }],
    ['kubernetes.io/tls without CA', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64(C), 'tls.key': b64(K) } }, { cert: C, key: K }],
    ['generic cert/key/cacert', { data: { cert: b64(C), key: b64(K), cacert: b64(A) } }, { cert: C, key: K, ca: A }],
    ['generic keys win over tls.* when both pairs exist', { data: { cert: b64(C), key: b64(K), 'tls.crt': b64(T), 'tls.key': b64(TK), cacert: b64(A), 'ca.crt': b64(B) } }, { cert: C, key: K, ca: A }],
    ['a lone cert does not make a pair: the other pair is used', { data: { cert: b64(C), 'tls.crt': b64(T), 'tls.key': b64(TK) } }, { cert: T, key: TK }],
    ['CA-only secret (the NAME-cacert form)', { data: { 'ca.crt': b64(A) } }, { ca: A }],
    ['empty values count as missing', { data: { 'tls.crt': '', 'tls.key': b64(K), 'ca.crt': '' } }, {}],
    ['stringData, plain text', { stringData: { 'tls.crt': C, 'tls.key': K } }, { cert: C, key: K }],
    ['stringData overrides data for the same key', { data: { 'tls.crt': b64('OLD'), 'tls.key': b64(K) }, stringData: { 'tls.crt': T } }, { cert: T, key: K }],
    ['material Envoy would reject is left out with the reason: not PEM', { stringData: { 'tls.crt': 'CRT', 'tls.key': K } }, { problems: ['tls.crt/tls.key: no PEM certificate'] }],
    ['a key that does not match the certificate', { stringData: { 'tls.crt': C, 'tls.key': OTHER_KEY, 'ca.crt': A } }, { ca: A, problems: ['tls.crt/tls.key: the private key does not match the certificate'] }],
    ['an unparsable CA is left out, the pair is kept', { stringData: { 'tls.crt': C, 'tls.key': K, 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n' } }, { cert: C, key: K }],
  ];
  for (const [what, fields, want] of table) {
    it(what, () => {
      const [s] = objs(secret('cred', 'istio-system', fields));
      const got = secretFromKubernetes(s as K8sSecret);
      if (what.startsWith('an unparsable CA')) {
        assert.match(String(got.problems), /^ca\.crt: unparsable certificate/);
        delete got.problems;
      }
      assert.deepEqual(got, { namespace: 'istio-system', name: 'cred', ...want });
    });
  }

  it('the snapshot finds secrets by namespace and name only', () => {
    const snap = snapshotFromObjects(objs(secret('cred', 'istio-system', { stringData: { cert: TEST_CERT, key: TEST_KEY } })));
    assert.equal(snap.secret('istio-system', 'cred')?.cert, TEST_CERT);
    assert.equal(snap.secret('default', 'cred'), undefined);
    assert.equal(snap.secret('istio-system', 'other'), undefined);
  });
});
