/** Small reusable field checks used by the per-kind semantic validators. */
import { isIP } from 'node:net';
import { RE2JS } from 're2js';
import { durationToMillis } from './common.js';
import type { Severity, ValidationIssue } from './result.js';

/** Collects issues with their field paths. */
export class Issues {
  readonly list: ValidationIssue[] = [];
  error(path: string, message: string): void { this.add(path, message, 'error'); }
  warn(path: string, message: string): void { this.add(path, message, 'warning'); }
  private add(path: string, message: string, severity: Severity): void { this.list.push({ path, message, severity }); }
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_LABEL_LOOSE = /^[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** A host name (FQDN or short name), optionally with a leading "*" wildcard, as Istio accepts it. */
export function checkWildcardHost(issues: Issues, path: string, host: string): void {
  if (host === '') return issues.error(path, 'host must not be empty');
  if (host === '*') return;
  if (host.length > 255) return issues.error(path, `host "${host}" is longer than 255 characters`);
  let rest = host;
  if (rest.startsWith('*')) {
    rest = rest.slice(1);
    if (rest.startsWith('.')) rest = rest.slice(1);
    if (rest === '') return issues.error(path, `host "${host}" is not a valid wildcard name`);
  }
  if (rest.includes('*')) return issues.error(path, `host "${host}": a wildcard "*" is only allowed as the leftmost part`);
  if (rest.endsWith('.')) rest = rest.slice(0, -1);
  for (const label of rest.split('.')) {
    if (label.length === 0 || label.length > 63 || !DNS_LABEL_LOOSE.test(label)) {
      return issues.error(path, `host "${host}" is not a valid DNS name (label "${label}")`);
    }
  }
}

/** "ns/host" as used by Gateway servers and Sidecar egress: ns is "*", ".", "~" or a namespace. */
export function checkNamespacedHost(issues: Issues, path: string, value: string, allowTilde: boolean): void {
  const parts = value.split('/');
  if (parts.length !== 2) return issues.error(path, `"${value}" must be in the form namespace/host`);
  const [ns, host] = parts;
  if (!(ns === '*' || ns === '.' || (allowTilde && ns === '~') || isDns1123Label(ns))) {
    issues.error(path, `"${value}": namespace "${ns}" must be "*", "."${allowTilde ? ', "~"' : ''} or a namespace name`);
  }
  checkWildcardHost(issues, path, host);
}

export function checkLabels(issues: Issues, path: string, labels: Record<string, string> | undefined): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    const name = k.includes('/') ? k.slice(k.indexOf('/') + 1) : k;
    if (k.includes('*') || v.includes('*')) issues.error(`${path}.${k}`, 'wildcards are not allowed in label selectors');
    else if (!LABEL_NAME.test(name) || name.length > 63) issues.error(`${path}.${k}`, `invalid label key "${k}"`);
    else if (!LABEL_VALUE.test(v) || v.length > 63) issues.error(`${path}.${k}`, `invalid label value "${v}"`);
  }
}

/** Every regex must compile as RE2 (Envoy's engine), not just as a JavaScript RegExp. */
export function checkRegex(issues: Issues, path: string, pattern: string): void {
  // As Istio: the length stands in for RE2's program size (which is larger), so that with the
  // limit meshpilot's bootstrap gives Envoy (32768) no accepted regex is rejected by the proxy.
  if (pattern.length > MAX_REGEX_LENGTH) {
    issues.error(path, `regex is too large: ${pattern.length} characters, at most ${MAX_REGEX_LENGTH} allowed`);
    return;
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (err) {
    issues.error(path, `invalid RE2 regex "${pattern}": ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  // re2js's program size runs below Envoy's (C++ RE2 compiles to UTF-8 byte ranges): past the limit
  // here, Envoy certainly rejects it; proxies with Envoy's default limit (100, bootstraps not made
  // by meshpilot) may reject smaller ones — such rejections show in the object's Reconciled status.
  const size = compiled.matcher('').programSize();
  if (size > ENVOY_RE2_MAX_PROGRAM_SIZE) issues.warn(path, `regex "${pattern.slice(0, 80)}" compiles to an RE2 program of at least ${size} instructions; Envoy rejects programs over ${ENVOY_RE2_MAX_PROGRAM_SIZE} (runtime re2.max_program_size.error_level)`);
}

/** Istio's limit on regex length. */
const MAX_REGEX_LENGTH = 1024;
/** The RE2 program size limit meshpilot's bootstrap (like Istio's) gives Envoy (src/proxy/bootstrap.ts). */
export const ENVOY_RE2_MAX_PROGRAM_SIZE = 32768;

export function checkHeaderName(issues: Issues, path: string, name: string): void {
  if (name === '') issues.error(path, 'header name must not be empty');
  else if (!HEADER_NAME.test(name)) issues.error(path, `invalid header name "${name}"`);
}

export function checkMinDuration(issues: Issues, path: string, d: string | undefined, minMs: number): void {
  if (d === undefined) return;
  if (durationToMillis(d) < minMs) issues.error(path, `duration must be at least ${minMs >= 1000 ? `${minMs / 1000}s` : `${minMs}ms`}`);
}

export function checkIpOrCidr(issues: Issues, path: string, value: string): void {
  const slash = value.indexOf('/');
  if (slash < 0) {
    if (isIP(value) === 0) issues.error(path, `"${value}" is not a valid IP address or CIDR`);
    return;
  }
  const ip = value.slice(0, slash);
  const bits = Number(value.slice(slash + 1));
  const family = isIP(ip);
  if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128) || value.slice(slash + 1) === '') {
    issues.error(path, `"${value}" is not a valid CIDR`);
  }
}

export function checkExportTo(issues: Issues, path: string, values: string[] | undefined): void {
  if (!values) return;
  const seen = new Set<string>();
  values.forEach((v, i) => {
    const p = `${path}[${i}]`;
    if (seen.has(v)) issues.error(p, `duplicate exportTo entry "${v}"`);
    seen.add(v);
    if (!(v === '.' || v === '*' || v === '~' || isDns1123Label(v))) issues.error(p, `exportTo entry "${v}" must be ".", "*", "~" or a namespace name`);
  });
  if (seen.has('~') && values.length > 1) issues.error(path, 'exportTo "~" (visible to nobody) cannot be combined with other entries');
  if (seen.has('*') && values.length > 1) issues.error(path, 'exportTo "*" cannot be combined with other entries');
}

export const PROTOCOLS = ['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TCP', 'TLS', 'MONGO', 'REDIS', 'MYSQL', 'UDP', 'HBONE'] as const;

export function checkProtocol(issues: Issues, path: string, protocol: string | undefined): void {
  if (protocol === undefined) return;
  if (!(PROTOCOLS as readonly string[]).includes(protocol.toUpperCase())) issues.error(path, `unknown protocol "${protocol}"; expected one of ${PROTOCOLS.join(', ')}`);
}

export function checkStringMatch(issues: Issues, path: string, m: { exact?: string; prefix?: string; regex?: string }, allowEmpty: boolean): void {
  const set = [m.exact, m.prefix, m.regex].filter((x) => x !== undefined).length;
  if (set > 1) issues.error(path, 'only one of exact, prefix or regex may be set');
  if (set === 0 && !allowEmpty) issues.error(path, 'one of exact, prefix or regex is required');
  if (m.regex !== undefined) checkRegex(issues, `${path}.regex`, m.regex);
}
