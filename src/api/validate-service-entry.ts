/** Istio's semantic rules for ServiceEntry and Sidecar. */
import { isIP } from 'node:net';
import { checkExportTo, checkIpOrCidr, checkLabels, checkNamespacedHost, checkProtocol, checkWildcardHost, Issues } from './checks.js';
import type { ServiceEntrySpec } from './service-entry.js';
import type { IstioIngressListener, SidecarSpec } from './sidecar.js';

export function validateServiceEntrySpec(spec: ServiceEntrySpec): Issues {
  const issues = new Issues();
  const resolution = spec.resolution ?? 'NONE';
  if (spec.hosts.length === 0) issues.error('spec.hosts', 'at least one host is required');
  spec.hosts.forEach((h, i) => {
    if (h === '*') issues.error(`spec.hosts[${i}]`, 'host "*" is not allowed');
    else if (h.includes('/')) issues.error(`spec.hosts[${i}]`, `host "${h}" must not contain "/"`);
    else checkWildcardHost(issues, `spec.hosts[${i}]`, h);
    if (isIP(h) !== 0) issues.error(`spec.hosts[${i}]`, `host "${h}" must be a name; put IP addresses in addresses`);
  });
  (spec.addresses ?? []).forEach((a, i) => checkIpOrCidr(issues, `spec.addresses[${i}]`, a));
  const numbers = new Set<number>();
  const names = new Set<string>();
  (spec.ports ?? []).forEach((p, i) => {
    if (numbers.has(p.number)) issues.error(`spec.ports[${i}].number`, `port ${p.number} appears more than once`);
    if (names.has(p.name)) issues.error(`spec.ports[${i}].name`, `port name "${p.name}" appears more than once`);
    numbers.add(p.number);
    names.add(p.name);
    checkProtocol(issues, `spec.ports[${i}].protocol`, p.protocol);
  });
  const endpoints = spec.endpoints ?? [];
  if (spec.workloadSelector && endpoints.length > 0) issues.error('spec', 'only one of endpoints or workloadSelector may be set');
  if (spec.workloadSelector) checkLabels(issues, 'spec.workloadSelector.labels', spec.workloadSelector.labels);
  if (resolution === 'NONE' && endpoints.length > 0) issues.error('spec.endpoints', 'endpoints must not be set when resolution is NONE');
  if (resolution === 'STATIC' && endpoints.length === 0 && !spec.workloadSelector) issues.error('spec.endpoints', 'resolution STATIC needs endpoints or a workloadSelector');
  if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) issues.error('spec.endpoints', 'resolution DNS_ROUND_ROBIN allows at most one endpoint');
  if ((resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && endpoints.length === 0) {
    spec.hosts.forEach((h, i) => { if (h.startsWith('*')) issues.error(`spec.hosts[${i}]`, `wildcard host "${h}" needs endpoints when resolution is ${resolution}`); });
  }
  if (resolution !== 'NONE' && resolution !== 'STATIC' && (spec.addresses ?? []).some((a) => a.includes('/') && !a.endsWith('/32') && !a.endsWith('/128'))) {
    issues.error('spec.addresses', `CIDR ranges in addresses are only allowed with resolution NONE or STATIC`);
  }
  if (resolution === 'NONE' && spec.workloadSelector) issues.warn('spec.workloadSelector', 'workloadSelector has no effect with resolution NONE');
  if (resolution === 'DYNAMIC_DNS') {
    spec.hosts.forEach((h, i) => { if (!h.startsWith('*')) issues.error(`spec.hosts[${i}]`, `host "${h}" must be a wildcard for resolution DYNAMIC_DNS`); });
    if (spec.addresses?.length) issues.error('spec.addresses', 'addresses cannot be set for resolution DYNAMIC_DNS');
    if (endpoints.length) issues.error('spec.endpoints', 'endpoints cannot be set for resolution DYNAMIC_DNS');
    (spec.ports ?? []).forEach((p, i) => {
      if (!['HTTP', 'TLS', 'GRPC', 'HTTP2'].includes((p.protocol ?? '').toUpperCase())) issues.error(`spec.ports[${i}].protocol`, 'only HTTP, TLS, GRPC and HTTP2 ports are supported for resolution DYNAMIC_DNS');
    });
  }
  if (!spec.addresses?.length) {
    (spec.ports ?? []).forEach((p, i) => {
      if ((p.protocol ?? 'TCP').toUpperCase() === 'TCP') issues.warn(`spec.ports[${i}]`, `TCP port ${p.number} without addresses: every connection to port ${p.number} will go to this ServiceEntry`);
    });
  }
  endpoints.forEach((ep, i) => {
    const p = `spec.endpoints[${i}]`;
    const addr = ep.address;
    if (addr === undefined || addr === '') {
      if (!ep.network) issues.error(`${p}.address`, 'address is required');
    } else if (addr.startsWith('unix://')) {
      if (resolution !== 'STATIC') issues.error(`${p}.address`, 'unix:// addresses need resolution STATIC');
    } else if (resolution === 'STATIC' && isIP(addr) === 0) {
      issues.error(`${p}.address`, `"${addr}" must be an IP address when resolution is STATIC`);
    } else if (isIP(addr) === 0) {
      checkWildcardHost(issues, `${p}.address`, addr);
      if (addr.includes('*')) issues.error(`${p}.address`, 'endpoint address must not be a wildcard');
    }
    for (const name of Object.keys(ep.ports ?? {})) {
      if (!names.has(name)) issues.error(`${p}.ports.${name}`, `port name "${name}" is not one of the ServiceEntry's ports`);
    }
    checkLabels(issues, `${p}.labels`, ep.labels);
  });
  checkExportTo(issues, 'spec.exportTo', spec.exportTo);
  return issues;
}

/**
 * Istio's rules for a Sidecar ingress listener's tls: only SIMPLE / MUTUAL / OPTIONAL_MUTUAL with
 * certificate files on an HTTPS or TLS port (credentialName and the other SDS forms, subject alt
 * names and httpsRedirect are not supported on sidecars).
 */
function checkSidecarIngressTls(issues: Issues, path: string, protocol: string | undefined, tls: NonNullable<IstioIngressListener['tls']>): void {
  const proto = (protocol ?? '').toUpperCase();
  if (proto !== 'HTTPS' && proto !== 'TLS') issues.error(path, `tls needs port protocol HTTPS or TLS, not ${protocol ?? '(none)'}`);
  if (tls.mode === 'ISTIO_MUTUAL' || tls.mode === 'AUTO_PASSTHROUGH') issues.error(`${path}.mode`, `mode ${tls.mode} is not allowed in sidecar ingress tls`);
  for (const field of ['credentialName', 'credentialNames', 'tlsCertificates', 'subjectAltNames'] as const) {
    if (tls[field] !== undefined) issues.error(`${path}.${field}`, `${field} is not supported in sidecar ingress tls (use serverCertificate and privateKey)`);
  }
  if (tls.httpsRedirect) issues.error(`${path}.httpsRedirect`, 'httpsRedirect is not supported in sidecar ingress tls');
  const mode = tls.mode ?? 'PASSTHROUGH';
  if (mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') {
    if (!tls.serverCertificate || !tls.privateKey) issues.error(path, `${mode} mode needs serverCertificate and privateKey`);
    if (mode !== 'SIMPLE' && !tls.caCertificates) issues.error(`${path}.caCertificates`, `${mode} mode needs caCertificates`);
  }
}

export function validateSidecarSpec(spec: SidecarSpec): Issues {
  const issues = new Issues();
  if (!spec.egress?.length && !spec.ingress?.length && !spec.outboundTrafficPolicy && !spec.inboundConnectionPool) {
    issues.warn('spec', 'empty Sidecar configuration');
  }
  if (spec.workloadSelector) {
    if (Object.keys(spec.workloadSelector.labels ?? {}).length === 0) issues.error('spec.workloadSelector.labels', 'workloadSelector labels must not be empty');
    checkLabels(issues, 'spec.workloadSelector.labels', spec.workloadSelector.labels);
  }
  const ingressPorts = new Set<number>();
  (spec.ingress ?? []).forEach((l, i) => {
    const p = `spec.ingress[${i}]`;
    if (ingressPorts.has(l.port.number)) issues.error(`${p}.port`, `port ${l.port.number} appears in more than one ingress listener`);
    ingressPorts.add(l.port.number);
    checkProtocol(issues, `${p}.port.protocol`, l.port.protocol);
    if (l.bind !== undefined && isIP(l.bind) === 0) issues.error(`${p}.bind`, `bind "${l.bind}" must be an IP address`);
    if (l.defaultEndpoint !== undefined && !/^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]):\d+$|^unix:\/\/.+/.test(l.defaultEndpoint)) {
      issues.error(`${p}.defaultEndpoint`, 'defaultEndpoint must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///path');
    }
    if (l.tls) checkSidecarIngressTls(issues, `${p}.tls`, l.port.protocol, l.tls);
  });
  const egress = spec.egress ?? [];
  const egressPorts = new Set<number>();
  let catchAll = 0;
  egress.forEach((l, i) => {
    const p = `spec.egress[${i}]`;
    if (l.hosts.length === 0) issues.error(`${p}.hosts`, 'at least one host is required');
    l.hosts.forEach((h, j) => checkNamespacedHost(issues, `${p}.hosts[${j}]`, h, true));
    if (l.port) {
      if (egressPorts.has(l.port.number)) issues.error(`${p}.port`, `port ${l.port.number} appears in more than one egress listener`);
      egressPorts.add(l.port.number);
      checkProtocol(issues, `${p}.port.protocol`, l.port.protocol);
    } else {
      catchAll++;
      if (i !== egress.length - 1) issues.error(p, 'the egress listener without a port must be the last one');
    }
    if (l.bind !== undefined && !l.bind.startsWith('unix://') && isIP(l.bind) === 0) issues.error(`${p}.bind`, `bind "${l.bind}" must be an IP address or unix:// path`);
  });
  if (catchAll > 1) issues.error('spec.egress', 'only one egress listener may omit the port');
  const otp = spec.outboundTrafficPolicy;
  if (otp?.egressProxy && otp.mode !== 'ALLOW_ANY') issues.error('spec.outboundTrafficPolicy.egressProxy', 'egressProxy needs mode ALLOW_ANY');
  if (otp?.egressProxy) checkWildcardHost(issues, 'spec.outboundTrafficPolicy.egressProxy.host', otp.egressProxy.host);
  return issues;
}
