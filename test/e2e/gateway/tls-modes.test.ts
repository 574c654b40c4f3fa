/**
 * Gateway TLS termination modes through a real Envoy, judged by real TLS clients: SIMPLE, MUTUAL
 * (CA from the Secret's ca.crt or from a NAME-cacert Secret, client SANs), OPTIONAL_MUTUAL,
 * protocol versions, cipher suites, and an RSA + ECDSA pair of credentials on one server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { freePort } from '../../helpers/ports.js';
import { ConfigDir, eventually, GATEWAY_LABELS, serviceWithBackends } from './fixture.js';
import { caSecret, certificateAuthority, derOf, issueCertificate, tlsGet, tlsSecretWithCa } from './tls-certs.js';
import { startGatewayStack, type GatewayStack } from './gateway-stack.js';

const NS = 'istio-system';

describe('gateway TLS modes through a real Envoy', () => {
  const cfg = new ConfigDir();
  let backend: EchoBackend;
  let stack: GatewayStack;
  let port: number;
  const serverCa = certificateAuthority('server-ca');
  const clientCa = certificateAuthority('client-ca');
  const otherCa = certificateAuthority('other-ca');
  const server = (host: string) => issueCertificate(serverCa, host, [host]);
  const rsa = issueCertificate(serverCa, 'dual-rsa', ['dual.example.com']);
  const ecdsa = issueCertificate(serverCa, 'dual-ecdsa', ['dual.example.com'], { ec: true });
  const goodClient = issueCertificate(clientCa, 'client', ['client.example.com']);
  const wrongSanClient = issueCertificate(clientCa, 'intruder', ['intruder.example.com']);
  const strangerClient = issueCertificate(otherCa, 'client', ['client.example.com']);
  const withCert = (c: { cert: string; key: string }) => ({ cert: c.cert, key: c.key });

  const https = (name: string, host: string, tls: Record<string, unknown>) => ({ port: { number: port, name, protocol: 'HTTPS' }, bind: '127.0.0.1', hosts: [host], tls });

  before(async () => {
    backend = await startEchoBackend('web', '127.0.0.1', 0);
    port = await freePort();
    cfg.write('services.yaml', serviceWithBackends('web', [{ backend, labels: {} }]));
    cfg.write('secrets.yaml', [
      tlsSecretWithCa('simple', NS, server('simple.example.com')),
      tlsSecretWithCa('mutual', NS, server('mutual.example.com'), clientCa.cert),
      tlsSecretWithCa('mutual2', NS, server('mutual2.example.com')),
      caSecret('mutual2-cacert', NS, clientCa.cert),
      tlsSecretWithCa('optional', NS, server('optional.example.com'), clientCa.cert),
      tlsSecretWithCa('tls13', NS, server('tls13.example.com')),
      tlsSecretWithCa('tls12', NS, server('tls12.example.com')),
      tlsSecretWithCa('cipher', NS, server('cipher.example.com')),
      tlsSecretWithCa('dual-rsa', NS, rsa),
      tlsSecretWithCa('dual-ecdsa', NS, ecdsa),
    ]);
    cfg.write('gateway.yaml', [{
      apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' },
      spec: {
        selector: GATEWAY_LABELS,
        servers: [
          https('https-simple', 'simple.example.com', { mode: 'SIMPLE', credentialName: 'simple' }),
          https('https-mutual', 'mutual.example.com', { mode: 'MUTUAL', credentialName: 'mutual', subjectAltNames: ['client.example.com'] }),
          https('https-mutual2', 'mutual2.example.com', { mode: 'MUTUAL', credentialName: 'mutual2' }),
          https('https-optional', 'optional.example.com', { mode: 'OPTIONAL_MUTUAL', credentialName: 'optional' }),
          https('https-tls13', 'tls13.example.com', { mode: 'SIMPLE', credentialName: 'tls13', minProtocolVersion: 'TLSV1_3' }),
          https('https-tls12', 'tls12.example.com', { mode: 'SIMPLE', credentialName: 'tls12', maxProtocolVersion: 'TLSV1_2' }),
          https('https-cipher', 'cipher.example.com', { mode: 'SIMPLE', credentialName: 'cipher', maxProtocolVersion: 'TLSV1_2', cipherSuites: ['NOT-A-CIPHER', 'ECDHE-RSA-AES256-GCM-SHA384'] }),
          https('https-dual', 'dual.example.com', { mode: 'SIMPLE', credentialNames: ['dual-rsa', 'dual-ecdsa'] }),
        ],
      },
    }, {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' },
      spec: { hosts: ['*.example.com'], gateways: ['gw'], http: [{ route: [{ destination: { host: 'web' } }] }] },
    }]);
    stack = await startGatewayStack(cfg);
    await eventually(async () => (await tlsGet(port, 'simple.example.com')).status === 200, 'HTTPS server up', 30_000);
  });

  after(async () => {
    // The backends go even when the no-NACK check fails (else they keep the test process alive).
    try {
      await stack?.stop();
    } finally {
      await backend?.close();
    }
  });

  it('SIMPLE: the Secret\'s certificate is served and requests reach the backend', async () => {
    const r = await tlsGet(port, 'simple.example.com', { ca: serverCa.cert, rejectUnauthorized: true });
    assert.equal(r.status, 200, JSON.stringify(r));
    assert.equal(r.backend, 'web');
  });

  it('MUTUAL (CA in ca.crt): a client certificate is required, verified against the CA, and its SAN must match', async () => {
    assert.equal((await tlsGet(port, 'mutual.example.com', withCert(goodClient))).status, 200);
    const none = await tlsGet(port, 'mutual.example.com');
    assert.equal(none.status, undefined, `no client certificate: ${JSON.stringify(none)}`);
    const stranger = await tlsGet(port, 'mutual.example.com', withCert(strangerClient));
    assert.equal(stranger.status, undefined, `certificate from another CA: ${JSON.stringify(stranger)}`);
    const wrongSan = await tlsGet(port, 'mutual.example.com', withCert(wrongSanClient));
    assert.equal(wrongSan.status, undefined, `SAN not in subjectAltNames: ${JSON.stringify(wrongSan)}`);
  });

  it('MUTUAL (CA from the NAME-cacert Secret): the CA\'s clients pass, others are refused', async () => {
    assert.equal((await tlsGet(port, 'mutual2.example.com', withCert(goodClient))).status, 200);
    assert.equal((await tlsGet(port, 'mutual2.example.com', withCert(wrongSanClient))).status, 200, 'no subjectAltNames: any SAN');
    assert.equal((await tlsGet(port, 'mutual2.example.com')).status, undefined);
    assert.equal((await tlsGet(port, 'mutual2.example.com', withCert(strangerClient))).status, undefined);
  });

  it('OPTIONAL_MUTUAL: works without a client certificate and with a valid one; an untrusted one is refused', async () => {
    assert.equal((await tlsGet(port, 'optional.example.com')).status, 200);
    assert.equal((await tlsGet(port, 'optional.example.com', withCert(goodClient))).status, 200);
    assert.equal((await tlsGet(port, 'optional.example.com', withCert(strangerClient))).status, undefined);
  });

  it('minProtocolVersion TLSV1_3 refuses a TLS 1.2 client; maxProtocolVersion TLSV1_2 refuses a TLS 1.3-only client', async () => {
    const r13 = await tlsGet(port, 'tls13.example.com');
    assert.equal(r13.status, 200);
    assert.equal(r13.protocol, 'TLSv1.3');
    assert.ok((await tlsGet(port, 'tls13.example.com', { maxVersion: 'TLSv1.2' })).error, 'TLS 1.2 client refused');
    const r12 = await tlsGet(port, 'tls12.example.com');
    assert.equal(r12.status, 200);
    assert.equal(r12.protocol, 'TLSv1.2', 'negotiated down to 1.2');
    assert.ok((await tlsGet(port, 'tls12.example.com', { minVersion: 'TLSv1.3' })).error, 'TLS 1.3-only client refused');
    // The listener default (Envoy: TLS 1.2 minimum for servers) still refuses TLS 1.1.
    assert.ok((await tlsGet(port, 'simple.example.com', { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' })).error);
  });

  it('cipherSuites: the configured suite is negotiated (an unknown name is dropped, not NACKed), a client offering only another suite is refused', async () => {
    const ok = await tlsGet(port, 'cipher.example.com', { maxVersion: 'TLSv1.2' });
    assert.equal(ok.status, 200);
    assert.equal(ok.cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
    const other = await tlsGet(port, 'cipher.example.com', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    assert.ok(other.error, `other suite: ${JSON.stringify(other)}`);
    // The other servers keep Envoy's default suites.
    assert.equal((await tlsGet(port, 'simple.example.com', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' })).status, 200);
  });

  it('credentialNames RSA + ECDSA: an RSA-only client gets the RSA certificate, an ECDSA-capable one the ECDSA one (TLS 1.2 and 1.3)', async () => {
    // Envoy serves the first RSA certificate to clients that only accept RSA signatures and the first
    // ECDSA certificate to clients that accept ECDSA, which includes Node's default client.
    const rsaOnly = 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256';
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const r = await tlsGet(port, 'dual.example.com', { sigalgs: rsaOnly, maxVersion });
      assert.equal(r.status, 200, JSON.stringify(r));
      assert.equal(r.peerCert, derOf(rsa.cert), `RSA-only client, ${maxVersion}`);
      const ec = await tlsGet(port, 'dual.example.com', { sigalgs: 'ecdsa_secp256r1_sha256', maxVersion });
      assert.equal(ec.status, 200, JSON.stringify(ec));
      assert.equal(ec.peerCert, derOf(ecdsa.cert), `ECDSA-only client, ${maxVersion}`);
    }
    assert.equal((await tlsGet(port, 'dual.example.com')).peerCert, derOf(ecdsa.cert), 'default client: ECDSA preferred');
    // A server with only the RSA certificate still serves it to an ECDSA-capable default client.
    assert.notEqual((await tlsGet(port, 'simple.example.com')).peerCert, undefined);
  });
});
