/** HTTPMatchRequest → Envoy RouteMatch, as Istio translates it. */
import type { HTTPMatchRequest, StringMatch } from '../api/index.js';
import { compareStrings } from './ordering.js';

type Obj = Record<string, unknown>;

/** Istio StringMatch → Envoy StringMatcher (exact / prefix / safe_regex; RE2 is Envoy's regex engine). */
export function envoyStringMatch(m: StringMatch): Obj | undefined {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  if (m.regex !== undefined) return { safeRegex: { regex: m.regex } };
  return undefined;
}

/** An empty StringMatch ({}) or the regex "*" means "present" in Istio. */
export function isPresenceMatch(m: StringMatch | undefined): boolean {
  return !m || (m.exact === undefined && m.prefix === undefined && m.regex === undefined) || m.regex === '*';
}

export function headerMatcher(name: string, m: StringMatch, invert = false): Obj {
  const out: Obj = { name };
  if (isPresenceMatch(m)) out.presentMatch = true;
  else out.stringMatch = envoyStringMatch(m);
  if (invert) {
    out.invertMatch = true;
    // A missing header counts as "" so that withoutHeaders {x: {exact: v}} matches requests without x.
    if (!isPresenceMatch(m)) out.treatMissingHeaderAsEmpty = true;
  }
  return out;
}

function queryMatcher(name: string, m: StringMatch): Obj {
  return isPresenceMatch(m) ? { name, presentMatch: true } : { name, stringMatch: envoyStringMatch(m) };
}

const sortedEntries = <T>(r: Record<string, T> | undefined): Array<[string, T]> => Object.entries(r ?? {}).sort(([a], [b]) => compareStrings(a, b));

/** A match block (or none: everything) → RouteMatch. Several blocks on one HTTPRoute become several routes (OR). */
export function buildRouteMatch(m: HTTPMatchRequest | undefined): Obj {
  const match: Obj = { prefix: '/' };
  if (!m) return match;
  if (m.uri?.exact !== undefined) match.path = m.uri.exact;
  else if (m.uri?.prefix !== undefined) match.prefix = m.uri.prefix;
  // caseSensitive does not apply to regexes in Envoy: Istio makes the regex itself case-insensitive.
  else if (m.uri?.regex !== undefined) match.safeRegex = { regex: m.ignoreUriCase && !m.uri.regex.startsWith('(?i)') ? `(?i)${m.uri.regex}` : m.uri.regex };
  if ('path' in match || 'safeRegex' in match) delete match.prefix;
  match.caseSensitive = { value: !m.ignoreUriCase };
  const headers: Obj[] = [
    ...sortedEntries(m.headers).map(([name, sm]) => headerMatcher(name, sm)),
    ...sortedEntries(m.withoutHeaders).map(([name, sm]) => headerMatcher(name, sm, true)),
  ].sort((a, b) => compareStrings(String(a.name), String(b.name)));
  if (m.method) headers.push(headerMatcher(':method', m.method));
  if (m.authority) headers.push(headerMatcher(':authority', m.authority));
  if (m.scheme) headers.push(headerMatcher(':scheme', m.scheme));
  if (headers.length) match.headers = headers;
  const qp = sortedEntries(m.queryParams);
  if (qp.length) match.queryParameters = qp.map(([name, sm]) => queryMatcher(name, sm));
  return match;
}

/** Istio's catch-all: prefix "/" or regex ".*" with no header or query conditions. */
export function isCatchAllMatch(match: Obj): boolean {
  const path = match.prefix === '/' || (match.safeRegex as { regex?: string } | undefined)?.regex === '.*';
  return path && !match.headers && !match.queryParameters;
}
