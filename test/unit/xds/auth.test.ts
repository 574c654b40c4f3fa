import { Metadata } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { KubeRest } from '../../../src/sources/kube/rest.js';
import { bearerToken, identityMismatch, serviceAccountIdentity, TokenFileAuthenticator, TokenReviewAuthenticator } from '../../../src/xds/auth.js';

describe('xDS authentication', () => {
  it('reads the bearer token from gRPC metadata, case-insensitively, and nothing else', () => {
    const md = (v?: string) => { const m = new Metadata(); if (v !== undefined) m.set('authorization', v); return m; };
    assert.equal(bearerToken(md('Bearer abc.def')), 'abc.def');
    assert.equal(bearerToken(md('bearer   xyz ')), 'xyz');
    assert.equal(bearerToken(md('Basic dXNlcjpwYXNz')), undefined);
    assert.equal(bearerToken(md('Bearer')), undefined);
    assert.equal(bearerToken(md()), undefined);
  });

  it('maps service-account usernames to identities and refuses other users', () => {
    assert.deepEqual(serviceAccountIdentity('system:serviceaccount:istio-system:ingressgateway'), { namespace: 'istio-system', serviceAccount: 'ingressgateway' });
    assert.ok(serviceAccountIdentity('kubernetes-admin') instanceof Error);
    assert.ok(serviceAccountIdentity('system:serviceaccount:onlyns') instanceof Error);
  });

  it('says why a claimed namespace does not fit the identity', () => {
    assert.equal(identityMismatch('team-a', { namespace: 'team-a', serviceAccount: 'x' }), undefined);
    assert.match(identityMismatch('istio-system', { namespace: 'team-a', serviceAccount: 'x' }) ?? '', /claims namespace "istio-system" but the token belongs to team-a\/x/);
  });

  it('token file: accepts listed tokens, picks up revocations, keeps the last good set when the file breaks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshpilot-tokens-'));
    try {
      const file = join(dir, 'tokens.yaml');
      const write = (text: string, mtime: number) => { writeFileSync(file, text); utimesSync(file, mtime, mtime); };
      write('tokens:\n  - { token: aaaaaaaaaaaaaaaa1, namespace: ns1, serviceAccount: sa1 }\n  - { token: bbbbbbbbbbbbbbbb2, namespace: ns2 }\n', 1000);
      const auth = new TokenFileAuthenticator(file);
      assert.deepEqual(await auth.authenticate('aaaaaaaaaaaaaaaa1'), { namespace: 'ns1', serviceAccount: 'sa1' });
      assert.deepEqual(await auth.authenticate('bbbbbbbbbbbbbbbb2'), { namespace: 'ns2', serviceAccount: 'default' });
      assert.ok(await auth.authenticate('nope') instanceof Error);
      write('tokens:\n  - { token: bbbbbbbbbbbbbbbb2, namespace: ns2 }\n', 2000);
      assert.ok(await auth.authenticate('aaaaaaaaaaaaaaaa1') instanceof Error, 'revoked');
      write('tokens: [{ token: short, namespace: ns3 }]\n', 3000);
      assert.deepEqual(await auth.authenticate('bbbbbbbbbbbbbbbb2'), { namespace: 'ns2', serviceAccount: 'default' }, 'last good set kept');
      const err = await auth.authenticate('short');
      assert.ok(err instanceof Error && /tokens\.0\.token: tokens must be at least 16 characters/.test(err.message), String(err));
      assert.throws(() => new TokenFileAuthenticator(join(dir, 'missing.yaml')), /missing\.yaml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('TokenReview: asks the apiserver once per token within the cache period', async () => {
    const asked: string[] = [];
    const rest = {
      async request(method: string, path: string, body?: unknown) {
        assert.equal(method, 'POST');
        assert.equal(path, '/apis/authentication.k8s.io/v1/tokenreviews');
        const token = (body as { spec: { token: string } }).spec.token;
        asked.push(token);
        const ok = token === 'good';
        return { status: 201, body: { status: ok ? { authenticated: true, user: { username: 'system:serviceaccount:ns:sa' } } : { authenticated: false, error: 'invalid bearer token' } } };
      },
    } as unknown as KubeRest;
    let now = 0;
    const auth = new TokenReviewAuthenticator(rest, [], () => now, 60_000);
    assert.deepEqual(await auth.authenticate('good'), { namespace: 'ns', serviceAccount: 'sa' });
    assert.deepEqual(await auth.authenticate('good'), { namespace: 'ns', serviceAccount: 'sa' });
    const bad = await auth.authenticate('bad');
    assert.ok(bad instanceof Error && /invalid bearer token/.test(bad.message));
    assert.deepEqual(asked, ['good', 'bad']);
    now = 61_000;
    await auth.authenticate('good');
    assert.deepEqual(asked, ['good', 'bad', 'good'], 'asked again after the cache period');
  });
});
