/** TLS material from Kubernetes Secrets, read as Istio's credential controller reads it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { K8sSecret } from '../../../src/api/index.js';
import { secretFromKubernetes } from '../../../src/registry/secrets.js';
import { snapshotFromObjects } from '../../../src/registry/snapshot.js';
import { b64, objs, secret } from './fixtures.js';

type Fields = Parameters<typeof secret>[2];

describe('secretFromKubernetes', () => {
  const table: Array<[string, Fields, { cert?: string; key?: string; ca?: string }]> = [
    ['kubernetes.io/tls with ca.crt', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64('CRT'), 'tls.key': b64('KEY'), 'ca.crt': b64('CA') } }, { cert: 'CRT', key: 'KEY', ca: 'CA' }],
    ['kubernetes.io/tls without CA', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64('CRT'), 'tls.key': b64('KEY') } }, { cert: 'CRT', key: 'KEY' }],
    ['generic cert/key/cacert', { data: { cert: b64('C'), key: b64('K'), cacert: b64('A') } }, { cert: 'C', key: 'K', ca: 'A' }],
    ['generic keys win over tls.* when both pairs exist', { data: { cert: b64('C'), key: b64('K'), 'tls.crt': b64('T'), 'tls.key': b64('TK'), cacert: b64('A'), 'ca.crt': b64('B') } }, { cert: 'C', key: 'K', ca: 'A' }],
    ['a lone cert does not make a pair: the other pair is used', { data: { cert: b64('C'), 'tls.crt': b64('T'), 'tls.key': b64('TK') } }, { cert: 'T', key: 'TK' }],
    ['CA-only secret (the NAME-cacert form)', { data: { 'ca.crt': b64('CA') } }, { ca: 'CA' }],
    ['empty values count as missing', { data: { 'tls.crt': '', 'tls.key': b64('KEY'), 'ca.crt': '' } }, {}],
    ['stringData, plain text', { stringData: { 'tls.crt': 'CRT', 'tls.key': 'KEY' } }, { cert: 'CRT', key: 'KEY' }],
    ['stringData overrides data for the same key', { data: { 'tls.crt': b64('OLD'), 'tls.key': b64('KEY') }, stringData: { 'tls.crt': 'NEW' } }, { cert: 'NEW', key: 'KEY' }],
    ['multi-line PEM survives decoding', { data: { 'tls.crt': b64('-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n'), 'tls.key': b64('k') } }, { cert: '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n', key: 'k' }],
  ];
  for (const [what, fields, want] of table) {
    it(what, () => {
      const [s] = objs(secret('cred', 'istio-system', fields));
      assert.deepEqual(secretFromKubernetes(s as K8sSecret), { namespace: 'istio-system', name: 'cred', ...want });
    });
  }

  it('the snapshot finds secrets by namespace and name only', () => {
    const snap = snapshotFromObjects(objs(secret('cred', 'istio-system', { stringData: { cert: 'C', key: 'K' } })));
    assert.equal(snap.secret('istio-system', 'cred')?.cert, 'C');
    assert.equal(snap.secret('default', 'cred'), undefined);
    assert.equal(snap.secret('istio-system', 'other'), undefined);
  });
});
