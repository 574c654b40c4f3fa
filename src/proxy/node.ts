/**
 * Who is connecting: parsed from Envoy's node id and metadata, Istio style.
 * Node id: TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local, TYPE = sidecar | router.
 */
export type ProxyType = 'sidecar' | 'router';

export interface ProxyInfo {
  /** The full node id as sent by Envoy. */
  id: string;
  type: ProxyType;
  /** IP addresses of the workload (first from the node id). */
  ips: string[];
  /** Pod name (the part of POD.NAMESPACE before the last dot). */
  podName: string;
  namespace: string;
  /** DNS domain, e.g. default.svc.cluster.local */
  dnsDomain: string;
  /** Workload labels from node metadata LABELS. */
  labels: Record<string, string>;
  /** Raw node metadata (string values only). */
  metadata: Record<string, unknown>;
}

/**
 * A proxyless gRPC client (Istio: node metadata GENERATOR "grpc"): it speaks xDS itself, asks for
 * API listeners by name (`host:port`) and gets the gRPC flavour of the configuration.
 */
export function isProxylessGrpc(proxy: Pick<ProxyInfo, 'metadata'>): boolean {
  return proxy.metadata.GENERATOR === 'grpc';
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

export function parseNodeId(id: string, metadata: Record<string, unknown> = {}): ParseResult<ProxyInfo> {
  const parts = id.split('~');
  if (parts.length !== 4) return { ok: false, error: `node id "${id}": expected TYPE~IP~POD.NAMESPACE~DOMAIN` };
  const [type, ip, podDotNs, dnsDomain] = parts;
  if (type !== 'sidecar' && type !== 'router') return { ok: false, error: `node id "${id}": type "${type}" must be sidecar or router` };
  const dot = podDotNs.lastIndexOf('.');
  const podName = dot > 0 ? podDotNs.slice(0, dot) : podDotNs;
  const idNamespace = dot > 0 ? podDotNs.slice(dot + 1) : '';
  const metaNs = typeof metadata.NAMESPACE === 'string' ? metadata.NAMESPACE : '';
  const namespace = metaNs || idNamespace || dnsDomain.split('.')[0] || 'default';
  const labels: Record<string, string> = {};
  const rawLabels = metadata.LABELS;
  if (rawLabels && typeof rawLabels === 'object') {
    for (const [k, v] of Object.entries(rawLabels as Record<string, unknown>)) if (typeof v === 'string') labels[k] = v;
  }
  const ips = [ip];
  if (typeof metadata.INSTANCE_IPS === 'string') for (const extra of metadata.INSTANCE_IPS.split(',')) if (extra && !ips.includes(extra)) ips.push(extra);
  return { ok: true, value: { id, type, ips, podName, namespace, dnsDomain, labels, metadata } };
}
