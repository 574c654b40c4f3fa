/**
 * Envoy's request matching, re-implemented for explanation: virtual host domain selection and
 * route matches (path, headers, query parameters), each returning why it did or did not match.
 * Regexes are RE2 (full match), like Envoy's safe_regex.
 */
import { RE2JS } from 're2js';
import type { ExplainRequest } from './request.js';

type Obj = Record<string, unknown>;

/** A match verdict: ok, and a short reason either way. */
export interface Verdict { ok: boolean; reason: string }

function fullMatch(regex: string, value: string): boolean {
  try {
    return RE2JS.matches(regex, value);
  } catch {
    return false;
  }
}

/** envoy.type.matcher.v3.StringMatcher against a value. */
export function stringMatches(m: Obj, value: string): boolean {
  const ic = m.ignoreCase === true;
  const norm = (s: string) => (ic ? s.toLowerCase() : s);
  if (typeof m.exact === 'string') return norm(value) === norm(m.exact);
  if (typeof m.prefix === 'string') return norm(value).startsWith(norm(m.prefix));
  if (typeof m.suffix === 'string') return norm(value).endsWith(norm(m.suffix));
  if (typeof m.contains === 'string') return norm(value).includes(norm(m.contains));
  const re = (m.safeRegex as { regex?: string } | undefined)?.regex;
  if (typeof re === 'string') return fullMatch(re, value);
  return false;
}

export function describeStringMatch(m: Obj | undefined): string {
  if (!m) return 'any';
  for (const k of ['exact', 'prefix', 'suffix', 'contains'] as const) if (typeof m[k] === 'string') return `${k} "${m[k] as string}"${m.ignoreCase ? ' (ignore case)' : ''}`;
  const re = (m.safeRegex as { regex?: string } | undefined)?.regex;
  return re !== undefined ? `regex "${re}"` : 'any';
}

/** Pseudo-headers as Envoy sees them, plus the request headers. */
function headerValue(req: ExplainRequest, name: string): string | undefined {
  switch (name) {
    case ':method': return req.method;
    case ':authority': case 'host': return req.authority;
    case ':scheme': return req.scheme;
    case ':path': return req.path + (req.query.length ? `?${new URLSearchParams(req.query).toString()}` : '');
    default: return req.headers[name.toLowerCase()];
  }
}

/** envoy.config.route.v3.HeaderMatcher, including Envoy's rules for a missing header. */
export function headerMatches(h: Obj, req: ExplainRequest): Verdict {
  const name = String(h.name);
  const invert = h.invertMatch === true;
  let value = headerValue(req, name);
  const present = h.presentMatch as boolean | undefined;
  const what = present !== undefined ? (present ? 'present' : 'absent') : describeStringMatch(h.stringMatch as Obj | undefined);
  const expected = `header ${name} ${invert ? 'not ' : ''}${what}`;
  if (value === undefined && h.treatMissingHeaderAsEmpty === true) value = '';
  if (value === undefined) {
    // Envoy: a missing header matches only "present: false", or "present: true" inverted.
    const ok = present !== undefined && (invert ? present : !present);
    return { ok, reason: `${expected}: header missing` };
  }
  const specific = present !== undefined ? present : stringMatches((h.stringMatch as Obj | undefined) ?? {}, value);
  const ok = specific !== invert;
  return { ok, reason: `${expected}: got "${value}"` };
}

/** envoy.config.route.v3.QueryParameterMatcher (first value of the parameter). */
export function queryMatches(q: Obj, req: ExplainRequest): Verdict {
  const name = String(q.name);
  const found = req.query.find(([k]) => k === name);
  const what = q.presentMatch ? 'present' : describeStringMatch(q.stringMatch as Obj | undefined);
  if (!found) return { ok: false, reason: `query ${name} ${what}: parameter missing` };
  const ok = q.presentMatch === true || stringMatches((q.stringMatch as Obj | undefined) ?? {}, found[1]);
  return { ok, reason: `query ${name} ${what}: got "${found[1]}"` };
}

/** The path part of a RouteMatch: prefix, path (exact) or safe_regex; case_sensitive applies to the first two. */
export function pathMatches(match: Obj, path: string): Verdict {
  const cs = (match.caseSensitive as { value?: boolean } | undefined)?.value !== false;
  const norm = (s: string) => (cs ? s : s.toLowerCase());
  const ci = cs ? '' : ' (ignore case)';
  if (typeof match.path === 'string') return { ok: norm(path) === norm(match.path), reason: `path exact "${match.path}"${ci}` };
  if (typeof match.prefix === 'string') return { ok: norm(path).startsWith(norm(match.prefix)), reason: `path prefix "${match.prefix}"${ci}` };
  if (typeof match.pathSeparatedPrefix === 'string') {
    const p = norm(match.pathSeparatedPrefix);
    const v = norm(path);
    return { ok: v === p || v.startsWith(`${p}/`), reason: `path separated prefix "${match.pathSeparatedPrefix}"${ci}` };
  }
  const re = (match.safeRegex as { regex?: string } | undefined)?.regex;
  if (typeof re === 'string') return { ok: fullMatch(re, path), reason: `path regex "${re}"` };
  return { ok: false, reason: 'route match has no path specifier' };
}

/** A whole RouteMatch: path, then every header, then every query parameter (all must hold). */
export function routeMatches(match: Obj, req: ExplainRequest): { ok: boolean; checks: Verdict[] } {
  const checks: Verdict[] = [pathMatches(match, req.path)];
  for (const h of (match.headers as Obj[] | undefined) ?? []) checks.push(headerMatches(h, req));
  for (const q of (match.queryParameters as Obj[] | undefined) ?? []) checks.push(queryMatches(q, req));
  return { ok: checks.every((c) => c.ok), checks };
}

/**
 * Envoy's virtual host selection: exact domain, then the longest suffix wildcard (`*.example.com`),
 * then the longest prefix wildcard (`example.*`), then `*`. A wildcard matches at least one character.
 */
export function selectVirtualHost<V extends { domains?: unknown }>(vhosts: readonly V[], host: string): { vhost: V; domain: string; kind: string } | undefined {
  const h = host.toLowerCase();
  let suffix: { vhost: V; domain: string } | undefined;
  let prefix: { vhost: V; domain: string } | undefined;
  let star: { vhost: V; domain: string } | undefined;
  for (const vhost of vhosts) {
    for (const raw of (vhost.domains as string[] | undefined) ?? []) {
      const d = raw.toLowerCase();
      if (d === h) return { vhost, domain: raw, kind: 'exact domain' };
      if (d === '*') { star ??= { vhost, domain: raw }; continue; }
      if (d.startsWith('*') && h.length > d.length - 1 && h.endsWith(d.slice(1))) {
        if (!suffix || d.length > suffix.domain.length) suffix = { vhost, domain: raw };
      } else if (d.endsWith('*') && h.length > d.length - 1 && h.startsWith(d.slice(0, -1))) {
        if (!prefix || d.length > prefix.domain.length) prefix = { vhost, domain: raw };
      }
    }
  }
  if (suffix) return { ...suffix, kind: 'suffix wildcard' };
  if (prefix) return { ...prefix, kind: 'prefix wildcard' };
  if (star) return { ...star, kind: 'catch-all "*"' };
  return undefined;
}
