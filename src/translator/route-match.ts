/** HTTPMatchRequest → Envoy RouteMatch. */
import type { HTTPMatchRequest, StringMatch } from '../api/index.js';

type Obj = Record<string, unknown>;

export function envoyStringMatch(m: StringMatch, ignoreCase = false): Obj {
  const out: Obj = {};
  if (m.exact !== undefined) out.exact = m.exact;
  else if (m.prefix !== undefined) out.prefix = m.prefix;
  else if (m.regex !== undefined) out.safeRegex = { regex: m.regex };
  if (ignoreCase && m.regex === undefined) out.ignoreCase = true;
  return out;
}

function isPresence(m: StringMatch): boolean {
  return m.exact === undefined && m.prefix === undefined && m.regex === undefined;
}

export function headerMatcher(name: string, m: StringMatch, invert: boolean): Obj {
  if (isPresence(m)) return { name, presentMatch: true, ...(invert ? { invertMatch: true } : {}) };
  return { name, stringMatch: envoyStringMatch(m), ...(invert ? { invertMatch: true } : {}) };
}

export function buildRouteMatch(m: HTTPMatchRequest | undefined): Obj {
  const match: Obj = {};
  const uri = m?.uri;
  if (uri?.exact !== undefined) match.path = uri.exact;
  else if (uri?.regex !== undefined) match.safeRegex = { regex: uri.regex };
  else match.prefix = uri?.prefix ?? '/';
  if (m?.ignoreUriCase) match.caseSensitive = { value: false };
  const headers: Obj[] = [];
  for (const [name, sm] of Object.entries(m?.headers ?? {}).sort(([a], [b]) => a.localeCompare(b))) headers.push(headerMatcher(name, sm, false));
  for (const [name, sm] of Object.entries(m?.withoutHeaders ?? {}).sort(([a], [b]) => a.localeCompare(b))) headers.push(headerMatcher(name, sm, true));
  if (m?.method) headers.push(headerMatcher(':method', m.method, false));
  if (m?.authority) headers.push(headerMatcher(':authority', m.authority, false));
  if (m?.scheme) headers.push(headerMatcher(':scheme', m.scheme, false));
  if (headers.length) match.headers = headers;
  const qp = Object.entries(m?.queryParams ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (qp.length) {
    match.queryParameters = qp.map(([name, sm]) => (isPresence(sm) ? { name, presentMatch: true } : { name, stringMatch: envoyStringMatch(sm) }));
  }
  return match;
}
