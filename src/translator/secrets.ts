/** SDS secrets for gateway TLS: kubernetes://NAME (certificate + key) and kubernetes://NAME-cacert (CA). */
import type { TlsSecret } from '../registry/model.js';
import type { NamedResource } from './types.js';

export const SDS_PREFIX = 'kubernetes://';

export function sdsName(credentialName: string): string {
  return `${SDS_PREFIX}${credentialName}`;
}

export function caSdsName(credentialName: string): string {
  return `${SDS_PREFIX}${credentialName}-cacert`;
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

export function sdsConfig(name: string): Record<string, unknown> {
  return { name, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } };
}
