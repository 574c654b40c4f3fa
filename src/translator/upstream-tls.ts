/**
 * TLS origination to a destination (DestinationRule trafficPolicy.tls SIMPLE / MUTUAL with file
 * paths): an UpstreamTlsContext with the SNI, the CA to verify the server with (the system bundle
 * when none is given), the subject alt names to accept and, for MUTUAL, the client certificate.
 *
 * Istio's rules kept here: a ServiceEntry's `subjectAltNames` are what is verified when the
 * DestinationRule's tls lists none; `insecureSkipVerify` drops verification. meshpilot's choice: without `sni` the
 * destination host is sent (Istio reaches the same result with auto SNI from the Host header).
 * Not handled here: ISTIO_MUTUAL (no mesh certificates in meshpilot) and credentialName (SDS),
 * which Istio also ignores on sidecars for DestinationRules without a workloadSelector.
 */
import type { ClientTLSSettings } from '../api/index.js';
import type { MeshService } from '../registry/model.js';

type Obj = Record<string, unknown>;

/** The trust bundle Istio's "system" CA stands for on Debian-like hosts. */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export function buildUpstreamTls(tls: ClientTLSSettings | undefined, host: string, svc: MeshService | undefined): Obj | undefined {
  if (!tls || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL') || tls.credentialName) return undefined;
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
