/**
 * TLS material from Kubernetes Secrets, read the way Istio's credential controller reads them:
 * the generic keys cert/key (and cacert) win over tls.crt/tls.key (and ca.crt) when both are
 * present; a certificate and key count only as a non-empty pair. Values come from base64 `data`,
 * or from `stringData` (which, as in the API server, overrides data for the same key).
 */
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

export function secretFromKubernetes(s: K8sSecret): TlsSecret {
  const values = secretValues(s);
  const pair = ([certKey, keyKey]: readonly [string, string]) => {
    const cert = nonEmpty(values, certKey);
    const key = nonEmpty(values, keyKey);
    return cert && key ? { cert, key } : undefined;
  };
  const certAndKey = pair(['cert', 'key']) ?? pair(['tls.crt', 'tls.key']);
  const ca = nonEmpty(values, 'cacert') ?? nonEmpty(values, 'ca.crt');
  return {
    namespace: s.metadata.namespace,
    name: s.metadata.name,
    ...(certAndKey ?? {}),
    ...(ca ? { ca } : {}),
  };
}
