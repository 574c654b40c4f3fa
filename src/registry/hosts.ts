/** Host name helpers with Istio's semantics (short names, wildcards). */

/** A short name ("reviews") is qualified in the given namespace; names with a dot are taken as they are. */
export function resolveShortName(host: string, namespace: string, domainSuffix: string): string {
  if (host === '*' || host.includes('.') || host.startsWith('*')) return host;
  return `${host}.${namespace}.svc.${domainSuffix}`;
}

/** Does a (possibly wildcard) pattern match a concrete host? "*.example.com" matches "a.example.com". */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*' || pattern === host) return true;
  if (pattern.startsWith('*')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return false;
}

/**
 * The intersection of two host patterns, as Istio computes it for Gateway server hosts and
 * VirtualService hosts: the more specific one when one covers the other, else undefined.
 */
export function intersectHosts(a: string, b: string): string | undefined {
  if (a === b) return a;
  if (hostMatches(a, b)) return b;
  if (hostMatches(b, a)) return a;
  return undefined;
}

/** Specificity for "most specific wildcard wins": exact beats any wildcard; longer suffix beats shorter. */
export function hostSpecificity(pattern: string): number {
  return pattern.startsWith('*') ? pattern.length : 10_000 + pattern.length;
}
