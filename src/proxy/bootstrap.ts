/** Envoy bootstrap files that point a proxy at meshpilot's ADS server. */
export interface BootstrapOptions {
  nodeId: string;
  labels?: Record<string, string>;
  namespace?: string;
  /** HOST:PORT or unix:///path/to/xds.sock */
  xdsAddress: string;
  /** HOST:PORT (or unix:///path) for Envoy's admin interface (default 127.0.0.1:15000). */
  adminAddress?: string;
  /** Envoy node.cluster (default: the pod name's workload part, as Istio sets it). */
  cluster?: string;
  /** Extra node metadata. */
  metadata?: Record<string, string>;
}

function socketAddress(hostPort: string): { socket_address: { address: string; port_value: number } } {
  const i = hostPort.lastIndexOf(':');
  if (i < 0) throw new Error(`address "${hostPort}": expected HOST:PORT`);
  const host = hostPort.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(hostPort.slice(i + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`address "${hostPort}": bad port`);
  return { socket_address: { address: host, port_value: port } };
}

export function xdsClusterAddress(xdsAddress: string): Record<string, unknown> {
  if (xdsAddress.startsWith('unix://')) return { pipe: { path: xdsAddress.slice('unix://'.length) } };
  if (xdsAddress.startsWith('unix:')) return { pipe: { path: xdsAddress.slice('unix:'.length) } };
  return socketAddress(xdsAddress);
}

export function buildBootstrap(opts: BootstrapOptions): Record<string, unknown> {
  const parts = opts.nodeId.split('~');
  const podDotNs = parts[2] ?? '';
  const namespace = opts.namespace ?? (podDotNs.includes('.') ? podDotNs.slice(podDotNs.lastIndexOf('.') + 1) : 'default');
  const admin = opts.adminAddress ?? '127.0.0.1:15000';
  return {
    node: {
      id: opts.nodeId,
      cluster: opts.cluster ?? `${podDotNs.split('.')[0] || 'proxy'}.${namespace}`,
      metadata: { ...(opts.metadata ?? {}), NAMESPACE: namespace, LABELS: opts.labels ?? {} },
    },
    admin: { address: admin.startsWith('unix:') ? xdsClusterAddress(admin) : socketAddress(admin) },
    dynamic_resources: {
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }],
        set_node_on_first_message_only: true,
      },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [{
        name: 'xds-grpc',
        type: 'STATIC',
        connect_timeout: '1s',
        typed_extension_protocol_options: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
            explicit_http_config: { http2_protocol_options: {} },
          },
        },
        load_assignment: {
          cluster_name: 'xds-grpc',
          endpoints: [{ lb_endpoints: [{ endpoint: { address: xdsClusterAddress(opts.xdsAddress) } }] }],
        },
      }],
    },
  };
}
