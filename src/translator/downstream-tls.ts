/**
 * DownstreamTlsContext for a TLS-terminating Gateway server (SIMPLE, MUTUAL, OPTIONAL_MUTUAL):
 * certificates via SDS (credentialName / credentialNames) or from files (serverCertificate /
 * privateKey / caCertificates), ALPN h2 + http/1.1 for HTTPS, TLS versions and cipher suites; for
 * client certificates the accepted subjectAltNames, SPKI pins and certificate hashes.
 */
import { supportedCipherSuites, type ServerTLSSettings } from '../api/index.js';
import type { ConfigSnapshot } from '../registry/model.js';
import { caSdsName, caSecretFor, certificateSecretFor, sdsName, sdsSecretConfig } from './secrets.js';
import type { NamedResource } from './types.js';

type Obj = Record<string, unknown>;

const TLS_VERSIONS: Record<string, string> = { TLS_AUTO: 'TLS_AUTO', TLSV1_0: 'TLSv1_0', TLSV1_1: 'TLSv1_1', TLSV1_2: 'TLSv1_2', TLSV1_3: 'TLSv1_3' };

/** Envoy matches typed SANs; Istio's subjectAltNames match any SAN type, so each name is listed per type. */
const SAN_TYPES = ['DNS', 'URI', 'EMAIL', 'IP_ADDRESS'] as const;

/** The client-certificate checks of a server besides the CA: SANs, SPKI pins, certificate hashes. */
export function clientCertificateChecks(tls: ServerTLSSettings): Obj {
  const out: Obj = {};
  if (tls.subjectAltNames?.length) out.matchTypedSubjectAltNames = tls.subjectAltNames.flatMap((san) => SAN_TYPES.map((sanType) => ({ sanType, matcher: { exact: san } })));
  if (tls.verifyCertificateSpki?.length) out.verifyCertificateSpki = [...tls.verifyCertificateSpki];
  if (tls.verifyCertificateHash?.length) out.verifyCertificateHash = [...tls.verifyCertificateHash];
  return out;
}

/** Why a credential gives no certificate: missing, incomplete, or unusable material. */
function secretIssue(snapshot: ConfigSnapshot, namespace: string, name: string): string {
  const s = snapshot.secret(namespace, name);
  if (!s) return 'does not exist (yet)';
  if (s.problems?.length) return `is unusable (${s.problems.join('; ')})`;
  return 'has no certificate and key (tls.crt/tls.key or cert/key)';
}

export type DownstreamTls = { ok: true; transportSocket: Obj; secrets: NamedResource[] } | { ok: false; reason: string };

/**
 * Builds the TLS transport socket of a server. Secrets are looked up in `namespace` (the gateway
 * workload's); a missing certificate (or CA for MUTUAL) is an error so that no listener references
 * a secret nobody serves.
 */
export function buildDownstreamTls(snapshot: ConfigSnapshot, namespace: string, tls: ServerTLSSettings, alpn: readonly string[]): DownstreamTls {
  const mode = tls.mode ?? 'SIMPLE';
  const mutual = mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  const common: Obj = {};
  if (alpn.length) common.alpnProtocols = [...alpn];
  const secrets: NamedResource[] = [];
  const credentials = tls.credentialNames?.length ? tls.credentialNames : tls.credentialName ? [tls.credentialName] : [];
  if (credentials.length) {
    for (const cred of credentials) {
      const cert = certificateSecretFor(snapshot, namespace, cred);
      if (!cert) return { ok: false, reason: `secret ${namespace}/${cred} ${secretIssue(snapshot, namespace, cred)}; the server waits for it` };
      secrets.push(cert);
    }
    common.tlsCertificateSdsSecretConfigs = credentials.map((c) => sdsSecretConfig(sdsName(c)));
    if (mutual) {
      const ca = caSecretFor(snapshot, namespace, credentials[0]);
      if (!ca) return { ok: false, reason: `${mode} needs a CA: ca.crt in secret ${namespace}/${credentials[0]} or ${namespace}/${credentials[0]}-cacert` };
      secrets.push(ca);
      common.combinedValidationContext = { defaultValidationContext: clientCertificateChecks(tls), validationContextSdsSecretConfig: sdsSecretConfig(caSdsName(credentials[0])) };
    }
  } else if (tls.serverCertificate && tls.privateKey) {
    common.tlsCertificates = [{ certificateChain: { filename: tls.serverCertificate }, privateKey: { filename: tls.privateKey } }];
    if (mutual) {
      if (!tls.caCertificates) return { ok: false, reason: `${mode} needs caCertificates` };
      common.validationContext = { trustedCa: { filename: tls.caCertificates }, ...clientCertificateChecks(tls) };
    }
  } else {
    return { ok: false, reason: 'no credentialName and no serverCertificate/privateKey' };
  }
  // TODO(mTLS details): caCrl is not applied yet.
  const params: Obj = {};
  if (tls.minProtocolVersion && tls.minProtocolVersion !== 'TLS_AUTO') params.tlsMinimumProtocolVersion = TLS_VERSIONS[tls.minProtocolVersion];
  if (tls.maxProtocolVersion && tls.maxProtocolVersion !== 'TLS_AUTO') params.tlsMaximumProtocolVersion = TLS_VERSIONS[tls.maxProtocolVersion];
  const ciphers = supportedCipherSuites(tls.cipherSuites ?? []);
  if (ciphers.length) params.cipherSuites = ciphers;
  if (Object.keys(params).length) common.tlsParams = params;
  return {
    ok: true,
    secrets,
    transportSocket: {
      name: 'envoy.transport_sockets.tls',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        commonTlsContext: common,
        requireClientCertificate: { value: mode === 'MUTUAL' },
      },
    },
  };
}
