/**
 * Test PKI for the gateway TLS tests (openssl): a certificate authority, certificates it issues
 * (RSA or ECDSA, with DNS SANs), Secrets in the shapes Istio reads, and a TLS client that sends one
 * HTTP/1.1 request and reports what it got (status, answering backend, served certificate) or why
 * it failed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export interface KeyPair { cert: string; key: string }

function inTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-pki-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

const keyArgs = (ec: boolean) => (ec ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048']);

/** A self-signed CA. */
export function certificateAuthority(cn: string): KeyPair {
  return inTempDir((dir) => {
    openssl(['req', '-x509', ...keyArgs(false), '-nodes', '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')]);
    return { cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') };
  });
}

/** A leaf certificate for cn with the given DNS SANs, signed by ca (RSA unless ec). */
export function issueCertificate(ca: KeyPair, cn: string, dnsNames: string[], opts: { ec?: boolean } = {}): KeyPair {
  return inTempDir((dir) => {
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'ca.key'), ca.key);
    writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    openssl(['req', ...keyArgs(!!opts.ec), '-nodes', '-subj', `/CN=${cn}`, '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'r.csr')]);
    openssl(['x509', '-req', '-in', join(dir, 'r.csr'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial',
      '-days', '2', '-extfile', join(dir, 'ext.cnf'), '-out', join(dir, 'c.pem')]);
    return { cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') };
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A kubernetes.io/tls Secret, with ca.crt when a CA is given. */
export function tlsSecretWithCa(name: string, namespace: string, pair: KeyPair, ca?: string): unknown {
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name, namespace },
    data: { 'tls.crt': b64(pair.cert), 'tls.key': b64(pair.key), ...(ca ? { 'ca.crt': b64(ca) } : {}) },
  };
}

/** A generic Secret holding only a CA (the NAME-cacert form). */
export function caSecret(name: string, namespace: string, ca: string): unknown {
  return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name, namespace }, data: { 'ca.crt': b64(ca) } };
}

/** The base64 DER of a PEM certificate (compare with getPeerCertificate().raw). */
export function derOf(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}

export interface TlsReply {
  status?: number;
  /** The answering backend's name (echo backend JSON), when the body is JSON with a name. */
  backend?: string;
  /** base64 DER of the certificate the server presented. */
  peerCert?: string;
  protocol?: string;
  cipher?: string;
  error?: string;
}

/**
 * Connects with TLS to 127.0.0.1:port (or opts.host), sends GET / with Host = servername, and
 * resolves with what came back; never rejects (errors are reported in `error`).
 */
export function tlsGet(port: number, servername: string, opts: ConnectionOptions = {}, timeoutMs = 5000): Promise<TlsReply> {
  return new Promise((resolve) => {
    const out: TlsReply = {};
    let raw = '';
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
      if (m) out.status = Number(m[1]);
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      const json = /\{.*\}/s.exec(body);
      if (json) { try { out.backend = (JSON.parse(json[0]) as { name?: string }).name; } catch { /* not JSON */ } }
      if (error && out.status === undefined) out.error = error;
      sock.destroy();
      resolve(out);
    };
    const sock = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...opts }, () => {
      out.peerCert = sock.getPeerCertificate().raw?.toString('base64');
      out.protocol = sock.getProtocol() ?? undefined;
      out.cipher = sock.getCipher()?.name;
      sock.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
    });
    sock.on('data', (d: Buffer) => (raw += d.toString()));
    sock.on('end', () => finish(raw ? undefined : 'closed without a response'));
    sock.on('close', () => finish(raw ? undefined : 'closed without a response'));
    sock.on('error', (e) => finish(e.message));
    sock.setTimeout(timeoutMs, () => finish('timeout'));
  });
}
