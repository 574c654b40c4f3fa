/**
 * TLS material from Kubernetes Secrets, read the way Istio's credential controller reads them:
 * the generic keys cert/key (and cacert) win over tls.crt/tls.key (and ca.crt) when both are
 * present; a certificate and key count only as a non-empty pair. Values come from base64 `data`,
 * or from `stringData` (which, as in the API server, overrides data for the same key).
 * Material Envoy would reject (unparsable PEM, a key that does not match the certificate) is left
 * out with a problem noted, so that it is never sent: the server waits as for a missing Secret.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { K8sSecret } from '../api/index.js';
import type { TlsSecret } from './model.js';

function secretValues(s: K8sSecret): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(s.data ?? {})) out.set(k, Buffer.from(v, 'base64').toString('utf8'));
  for (const [k, v] of Object.entries(s.stringData ?? {})) out.set(k, v);
  return out;
}

function nonEmpty(values: Map<string, string>, key: string): string | undefined {
  const v = values.get(key);
  return v ? v : undefined;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle parses (and there is at least one); else why not. */
function certificateProblem(pem: string): string | undefined {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return 'no PEM certificate';
  for (const b of blocks) {
    try { new X509Certificate(b); } catch (err) { return `unparsable certificate: ${(err as Error).message}`; }
  }
  return undefined;
}

/** The private key parses and belongs to the first certificate of the chain; else why not. */
function keyPairProblem(cert: string, key: string): string | undefined {
  const certIssue = certificateProblem(cert);
  if (certIssue) return certIssue;
  try {
    const leaf = new X509Certificate((cert.match(PEM_CERTIFICATE) ?? [])[0] ?? '');
    if (!leaf.checkPrivateKey(createPrivateKey(key))) return 'the private key does not match the certificate';
  } catch (err) {
    return `unparsable private key: ${(err as Error).message}`;
  }
  return undefined;
}

export function secretFromKubernetes(s: K8sSecret): TlsSecret {
  const values = secretValues(s);
  const problems: string[] = [];
  const pair = ([certKey, keyKey]: readonly [string, string]) => {
    const cert = nonEmpty(values, certKey);
    const key = nonEmpty(values, keyKey);
    return cert && key ? { cert, key, keys: `${certKey}/${keyKey}` } : undefined;
  };
  const found = pair(['cert', 'key']) ?? pair(['tls.crt', 'tls.key']);
  const pairIssue = found && keyPairProblem(found.cert, found.key);
  if (pairIssue) problems.push(`${found.keys}: ${pairIssue}`);
  const caKey = nonEmpty(values, 'cacert') ? 'cacert' : 'ca.crt';
  const ca = nonEmpty(values, caKey);
  const caIssue = ca && certificateProblem(ca);
  if (caIssue) problems.push(`${caKey}: ${caIssue}`);
  return {
    namespace: s.metadata.namespace,
    name: s.metadata.name,
    ...(found && !pairIssue ? { cert: found.cert, key: found.key } : {}),
    ...(ca && !caIssue ? { ca } : {}),
    ...(problems.length ? { problems } : {}),
  };
}
