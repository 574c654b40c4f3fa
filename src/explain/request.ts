/**
 * The request `meshpilot explain` reasons about, parsed from a curl-like line:
 * `[METHOD] URL [-H name:value]...`, e.g. `GET http://reviews:9080/x -H end-user:jason`.
 */
export interface ExplainRequest {
  method: string;
  scheme: 'http' | 'https';
  /** Host as the client sends it in :authority (with the port when it is not the scheme's default). */
  authority: string;
  /** Host name or IP, lower case, without port. */
  hostname: string;
  /** Destination port (explicit, else 80 / 443). */
  port: number;
  /** Path without the query string. */
  path: string;
  /** Query parameters, decoded, in order. */
  query: Array<[string, string]>;
  /** Request headers, names in lower case (several values joined with ","), without pseudo-headers. */
  headers: Record<string, string>;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const METHOD = /^[A-Z]+$/;

/** Parses `[METHOD] URL [-H 'name: value']...` (tokens as the shell split them). */
export function parseRequest(tokens: readonly string[]): Parsed<ExplainRequest> {
  // -H name:value pairs may come anywhere; what remains is [METHOD] URL.
  const rest: string[] = [];
  const rawHeaders: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === '-H' || t === '--header') {
      const h = tokens[++i];
      if (h === undefined) return { ok: false, error: `request: ${t} needs name:value` };
      rawHeaders.push(h);
    } else rest.push(t);
  }
  let method = 'GET';
  if (rest.length > 1 && METHOD.test(rest[0])) method = rest.shift()!;
  const rawUrl = rest.shift();
  if (!rawUrl) return { ok: false, error: 'request: expected [METHOD] URL [-H name:value]...' };
  if (rest.length) return { ok: false, error: `request: unexpected "${rest[0]}" after the URL (headers go with -H name:value)` };
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(rawUrl) ? rawUrl : `http://${rawUrl}`);
  } catch {
    return { ok: false, error: `request URL "${rawUrl}": not a valid URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, error: `request URL "${rawUrl}": scheme must be http or https` };
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const headers: Record<string, string> = {};
  let authority = url.host;
  for (const h of rawHeaders) {
    const i = h.indexOf(':', h.startsWith(':') ? 1 : 0);
    if (i <= 0) return { ok: false, error: `request header "${h}": expected name:value` };
    const name = h.slice(0, i).trim().toLowerCase();
    const value = h.slice(i + 1).trim();
    if (name === 'host' || name === ':authority') { authority = value; continue; }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const query: Array<[string, string]> = [...url.searchParams.entries()];
  return {
    ok: true,
    value: {
      method, scheme, authority: authority.toLowerCase(), hostname: url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase(),
      port: url.port ? Number(url.port) : scheme === 'https' ? 443 : 80,
      path: url.pathname, query, headers,
    },
  };
}
