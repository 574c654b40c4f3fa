/**
 * TLS origination to a destination (DestinationRule trafficPolicy.tls SIMPLE / MUTUAL with file
 * paths): an UpstreamTlsContext with the SNI, the CA to verify the server with (the system bundle
 * when none is given), the subject alt names to accept and, for MUTUAL, the client certificate.
 *
 * Istio's rules kept here: a ServiceEntry's `subjectAltNames` are what is verified when the
 * DestinationRule's tls lists none; `insecureSkipVerify` drops verification. meshpilot's choice: without `sni` the
 * destination host is sent (Istio reaches the same result with auto SNI from the Host header).
 * credentialName (Istio: gateways only, e.g. an egress gateway originating TLS) takes the client
 * certificate (MUTUAL) and the CA (ca.crt of NAME, or Secret NAME-cacert) over SDS from the gateway's
 * namespace; `credentials` says which of the two exist there. A missing one fails closed: the
 * cluster still speaks TLS but its server verification cannot succeed, so no request leaves in
 * clear text and Envoy never waits on a Secret that will not come.
 * Not handled: ISTIO_MUTUAL (no mesh certificates in meshpilot); credentialName on sidecars, which
 * Istio ignores too.
 */
import type { ClientTLSSettings } from '../api/index.js';
import type { MeshService } from '../registry/model.js';
import { caSdsName, sdsName, sdsSecretConfig } from './secrets.js';

type Obj = Record<string, unknown>;

/** The trust bundle Istio's "system" CA stands for on Debian-like hosts. */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Which parts of a credentialName exist (and are usable) in the gateway's namespace. */
export type CredentialLookup = (credentialName: string) => { cert: boolean; ca: boolean };

/** A SAN no certificate carries: verification against it always fails (fail closed). */
const UNMATCHABLE_SAN = 'meshpilot.invalid/missing-credential';

function sdsUpstreamTls(tls: ClientTLSSettings & { credentialName: string }, host: string, credentials: CredentialLookup): Obj {
  const have = credentials(tls.credentialName);
  const common: Obj = {};
  if (tls.mode === 'MUTUAL' && have.cert) common.tlsCertificateSdsSecretConfigs = [sdsSecretConfig(sdsName(tls.credentialName))];
  const sans = tls.subjectAltNames ?? [];
  const missing = (tls.mode === 'MUTUAL' && !have.cert) || (!tls.insecureSkipVerify && !have.ca);
  if (missing) {
    common.validationContext = { trustedCa: { filename: SYSTEM_CA_BUNDLE }, matchTypedSubjectAltNames: [{ sanType: 'DNS', matcher: { exact: UNMATCHABLE_SAN } }] };
  } else if (!tls.insecureSkipVerify) {
    common.combinedValidationContext = {
      defaultValidationContext: sans.length ? { matchTypedSubjectAltNames: sans.map((x) => ({ sanType: 'DNS', matcher: { exact: x } })) } : {},
      validationContextSdsSecretConfig: sdsSecretConfig(caSdsName(tls.credentialName)),
    };
  }
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: tls.sni ?? host, commonTlsContext: common },
  };
}

export function buildUpstreamTls(tls: ClientTLSSettings | undefined, host: string, svc: MeshService | undefined, credentials?: CredentialLookup): Obj | undefined {
  if (!tls || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL')) return undefined;
  if (tls.credentialName) return credentials ? sdsUpstreamTls({ ...tls, credentialName: tls.credentialName }, host, credentials) : undefined;
  const common: Obj = {};
  if (tls.mode === 'MUTUAL') {
    if (!tls.clientCertificate || !tls.privateKey) return undefined;
    common.tlsCertificates = [{ certificateChain: { filename: tls.clientCertificate }, privateKey: { filename: tls.privateKey } }];
  }
  if (!tls.insecureSkipVerify) {
    const sans = tls.subjectAltNames?.length ? tls.subjectAltNames : svc?.source === 'serviceentry' ? svc.subjectAltNames ?? [] : [];
    common.validationContext = {
      trustedCa: { filename: tls.caCertificates ?? SYSTEM_CA_BUNDLE },
      ...(sans.length ? { matchTypedSubjectAltNames: sans.map((s) => ({ sanType: 'DNS', matcher: { exact: s } })) } : {}),
      ...(tls.caCrl ? { crl: { filename: tls.caCrl } } : {}),
    };
  }
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: tls.sni ?? host,
      commonTlsContext: common,
    },
  };
}
