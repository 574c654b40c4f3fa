/**
 * SDS secrets for gateway TLS, named as Istio names them: kubernetes://NAME (certificate + key from
 * Secret NAME in the gateway's namespace) and kubernetes://NAME-cacert (the CA: ca.crt of Secret
 * NAME, or Secret NAME-cacert).
 */
import type { ConfigSnapshot, TlsSecret } from '../registry/model.js';
import type { NamedResource } from './types.js';

export const SDS_PREFIX = 'kubernetes://';
export const CA_SUFFIX = '-cacert';

export function sdsName(credentialName: string): string {
  return `${SDS_PREFIX}${credentialName}`;
}

export function caSdsName(credentialName: string): string {
  return `${SDS_PREFIX}${credentialName}${CA_SUFFIX}`;
}

/** An SdsSecretConfig fetched over ADS. */
export function sdsSecretConfig(name: string): Record<string, unknown> {
  return { name, sdsConfig: { ads: {}, initialFetchTimeout: { seconds: 0, nanos: 0 }, resourceApiVersion: 'V3' } };
}

export function buildCertificateSecret(credentialName: string, s: TlsSecret): NamedResource | undefined {
  if (!s.cert || !s.key) return undefined;
  const name = sdsName(credentialName);
  return { name, value: { name, tlsCertificate: { certificateChain: { inlineString: s.cert }, privateKey: { inlineString: s.key } } } };
}

export function buildCaSecret(credentialName: string, s: TlsSecret): NamedResource | undefined {
  if (!s.ca) return undefined;
  const name = caSdsName(credentialName);
  return { name, value: { name, validationContext: { trustedCa: { inlineString: s.ca } } } };
}

/** The certificate secret for a credential, looked up in the gateway workload's namespace. */
export function certificateSecretFor(snapshot: ConfigSnapshot, namespace: string, credentialName: string): NamedResource | undefined {
  const s = snapshot.secret(namespace, credentialName);
  return s ? buildCertificateSecret(credentialName, s) : undefined;
}

/** The CA secret for a credential: ca.crt of Secret NAME-cacert, else ca.crt of Secret NAME. */
export function caSecretFor(snapshot: ConfigSnapshot, namespace: string, credentialName: string): NamedResource | undefined {
  const dedicated = snapshot.secret(namespace, `${credentialName}${CA_SUFFIX}`);
  const fromDedicated = dedicated && buildCaSecret(credentialName, dedicated);
  if (fromDedicated) return fromDedicated;
  const s = snapshot.secret(namespace, credentialName);
  return s ? buildCaSecret(credentialName, s) : undefined;
}
