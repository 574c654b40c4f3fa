/** Istio's semantic rules for Gateway. */
import { isIP } from 'node:net';
import { checkLabels, checkNamespacedHost, checkProtocol, checkWildcardHost, Issues } from './checks.js';
import type { GatewaySpec, Server } from './gateway.js';

/**
 * The cipher suites Envoy (BoringSSL) accepts by name for TLS 1.0-1.2. Envoy rejects a listener
 * naming any other, so, as Istio does, unknown names are dropped (with a validation warning).
 */
export const SUPPORTED_CIPHER_SUITES: ReadonlySet<string> = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-PSK-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-PSK-AES128-CBC-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA', 'ECDHE-PSK-AES256-CBC-SHA',
  'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA', 'PSK-AES128-CBC-SHA', 'AES256-SHA', 'PSK-AES256-CBC-SHA', 'DES-CBC3-SHA',
]);

/** The configured cipher suites Envoy knows, in order, without duplicates. */
export function supportedCipherSuites(suites: readonly string[]): string[] {
  return [...new Set(suites.filter((c) => SUPPORTED_CIPHER_SUITES.has(c)))];
}

export function isTlsProtocol(p: string): boolean {
  const u = p.toUpperCase();
  return u === 'HTTPS' || u === 'TLS';
}

function checkServer(issues: Issues, path: string, s: Server): void {
  checkProtocol(issues, `${path}.port.protocol`, s.port.protocol);
  const proto = s.port.protocol.toUpperCase();
  if (s.hosts.length === 0) issues.error(`${path}.hosts`, 'at least one host is required');
  s.hosts.forEach((h, i) => {
    if (h.includes('/')) checkNamespacedHost(issues, `${path}.hosts[${i}]`, h, false);
    else checkWildcardHost(issues, `${path}.hosts[${i}]`, h);
  });
  if (s.bind !== undefined && !s.bind.startsWith('unix://') && isIP(s.bind) === 0) issues.error(`${path}.bind`, `bind "${s.bind}" must be an IP address or unix:// path`);
  const tls = s.tls;
  if (isTlsProtocol(proto)) {
    if (!tls) return issues.error(`${path}.tls`, `server with protocol ${s.port.protocol} must have tls settings`);
    if (tls.httpsRedirect && !tls.mode) issues.error(`${path}.tls.mode`, 'tls mode is required');
  } else if (tls && !tls.httpsRedirect) {
    issues.error(`${path}.tls`, `tls settings (other than httpsRedirect) need protocol HTTPS or TLS, not ${s.port.protocol}`);
  } else if (tls && tls.httpsRedirect && tls.mode !== undefined) {
    issues.error(`${path}.tls.mode`, `tls mode needs protocol HTTPS or TLS, not ${s.port.protocol}`);
  }
  if (!tls) return;
  const mode = tls.mode ?? 'PASSTHROUGH';
  const hasFiles = tls.serverCertificate !== undefined || tls.privateKey !== undefined;
  const hasCreds = tls.credentialName !== undefined || (tls.credentialNames?.length ?? 0) > 0 || (tls.tlsCertificates?.length ?? 0) > 0;
  if (isTlsProtocol(proto) && (mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL')) {
    if (!hasCreds && !hasFiles) issues.error(`${path}.tls`, `${mode} mode needs credentialName, or serverCertificate and privateKey`);
    if (!hasCreds && hasFiles && (!tls.serverCertificate || !tls.privateKey)) issues.error(`${path}.tls`, 'serverCertificate and privateKey must both be set');
    if (tls.credentialName !== undefined && tls.credentialNames !== undefined) issues.error(`${path}.tls`, 'only one of credentialName or credentialNames may be set');
    if ((mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') && !hasCreds && !tls.caCertificates) issues.error(`${path}.tls.caCertificates`, `${mode} mode needs caCertificates or credentialName`);
  }
  if ((mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') && proto === 'HTTPS') issues.error(`${path}.tls.mode`, `${mode} mode needs protocol TLS, not HTTPS`);
  if (mode === 'AUTO_PASSTHROUGH' && proto !== 'TLS') issues.error(`${path}.tls.mode`, 'AUTO_PASSTHROUGH needs protocol TLS');
  (tls.cipherSuites ?? []).forEach((c, i) => {
    if (!SUPPORTED_CIPHER_SUITES.has(c)) issues.warn(`${path}.tls.cipherSuites[${i}]`, `unknown cipher suite "${c}" is ignored`);
  });
  if (tls.minProtocolVersion && tls.maxProtocolVersion && tls.minProtocolVersion !== 'TLS_AUTO' && tls.maxProtocolVersion !== 'TLS_AUTO' && tls.minProtocolVersion > tls.maxProtocolVersion) {
    issues.error(`${path}.tls`, 'minProtocolVersion must not be greater than maxProtocolVersion');
  }
}

export function validateGatewaySpec(spec: GatewaySpec): Issues {
  const issues = new Issues();
  const servers = spec.servers ?? [];
  if (servers.length === 0) issues.error('spec.servers', 'at least one server is required');
  const portNames = new Map<string, number>();
  const serverNames = new Set<string>();
  servers.forEach((s, i) => {
    checkServer(issues, `spec.servers[${i}]`, s);
    if (s.port.name) {
      const prev = portNames.get(s.port.name);
      if (prev !== undefined && prev !== s.port.number) issues.error(`spec.servers[${i}].port.name`, `port name "${s.port.name}" is used for different port numbers`);
      portNames.set(s.port.name, s.port.number);
    }
    if (s.name) {
      if (serverNames.has(s.name)) issues.error(`spec.servers[${i}].name`, `duplicate server name "${s.name}"`);
      serverNames.add(s.name);
    }
  });
  checkLabels(issues, 'spec.selector', spec.selector);
  return issues;
}
