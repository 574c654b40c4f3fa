/** What else a matched route does to the request besides choosing clusters: rewrites, timeout, retries, mirrors, faults. */
type Obj = Record<string, unknown>;

const FAULT = 'envoy.filters.http.fault';

function seconds(d: unknown): string | undefined {
  const x = d as { seconds?: number; nanos?: number } | undefined;
  if (!x) return undefined;
  const s = Number(x.seconds ?? 0) + Number(x.nanos ?? 0) / 1e9;
  return `${s}s`;
}

/** Envoy FractionalPercent → percent. */
function percent(f: unknown): number {
  const x = f as { numerator?: number; denominator?: string } | undefined;
  const den = x?.denominator === 'TEN_THOUSAND' ? 100 : x?.denominator === 'MILLION' ? 10000 : 1;
  return Number(x?.numerator ?? 0) / den;
}

/** `vhost`: the route's virtual host, whose retry policy applies when the route has none of its own. */
export function routePolicies(route: Obj, vhost?: Obj): string[] {
  const out: string[] = [];
  const a = (route.route ?? {}) as Obj;
  if (typeof a.prefixRewrite === 'string') out.push(`path prefix rewritten to "${a.prefixRewrite}"`);
  const rr = a.regexRewrite as { pattern?: { regex?: string }; substitution?: string } | undefined;
  if (rr) out.push(`path rewritten by regex "${rr.pattern?.regex ?? ''}" → "${rr.substitution ?? ''}"`);
  if (typeof a.hostRewriteLiteral === 'string') out.push(`authority rewritten to "${a.hostRewriteLiteral}"`);
  const t = seconds(a.timeout);
  if (t !== undefined) out.push(t === '0s' ? 'no route timeout' : `timeout ${t}`);
  const retry = (route.route ? a.retryPolicy ?? vhost?.retryPolicy : undefined) as { numRetries?: { value?: number }; retryOn?: string; perTryTimeout?: unknown } | undefined;
  if (retry) out.push(`retries: ${retry.numRetries?.value ?? 1} on ${retry.retryOn ?? '?'}${retry.perTryTimeout ? `, ${seconds(retry.perTryTimeout)} per try` : ''}`);
  for (const m of (a.requestMirrorPolicies as Obj[] | undefined) ?? []) out.push(`mirrored to ${String(m.cluster)} (${percent((m.runtimeFraction as { defaultValue?: unknown } | undefined)?.defaultValue)}%)`);
  const fault = (route.typedPerFilterConfig as Obj | undefined)?.[FAULT] as { delay?: { fixedDelay?: unknown; percentage?: unknown }; abort?: { httpStatus?: number; grpcStatus?: number; percentage?: unknown } } | undefined;
  if (fault?.delay) out.push(`fault: ${percent(fault.delay.percentage)}% of requests delayed ${seconds(fault.delay.fixedDelay)}`);
  if (fault?.abort) out.push(`fault: ${fault.abort.percentage ? percent(fault.abort.percentage) : 100}% of requests aborted with ${fault.abort.httpStatus !== undefined ? `HTTP ${fault.abort.httpStatus}` : `gRPC ${fault.abort.grpcStatus}`}`);
  return out;
}
