/** Envoy bootstrap files that point a proxy at meshpilot's ADS server. */
import { ENVOY_RE2_MAX_PROGRAM_SIZE } from '../api/checks.js';

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
  /**
   * Secure xDS: the CA (PEM file path) that signed meshpilot's serving certificate; Envoy then
   * speaks TLS to the xDS address and checks the certificate (and `xdsServerName`, if given).
   */
  xdsCaFile?: string;
  /** Name to send as SNI and to match in the server certificate's SANs (default: none checked). */
  xdsServerName?: string;
  /** A bearer token sent on the xDS stream (its identity decides the proxy's namespace). */
  xdsToken?: string;
  /** Incremental (Delta) xDS instead of State of the World. */
  delta?: boolean;
}

/** The xds-grpc cluster's TLS: h2 over TLS, server certificate checked against the CA. */
function xdsTransportSocket(caFile: string, serverName?: string): Record<string, unknown> {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      ...(serverName ? { sni: serverName } : {}),
      common_tls_context: {
        alpn_protocols: ['h2'],
        validation_context: {
          trusted_ca: { filename: caFile },
          ...(serverName ? { match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: serverName } }] } : {}),
        },
      },
    },
  };
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

/**
 * Envoy's runtime, as Istio's bootstrap sets it: RE2's program size limit raised from Envoy's
 * default (100) to 32768, so that regexes Istio validation accepts (at most 1024 characters, see
 * src/api/checks.ts) are not rejected by the proxy; an admin layer for /runtime_modify.
 */
function envoyRuntime(): Record<string, unknown> {
  return {
    layers: [
      { name: 'global config', static_layer: { 're2.max_program_size.error_level': ENVOY_RE2_MAX_PROGRAM_SIZE } },
      { name: 'admin', admin_layer: {} },
    ],
  };
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
    layered_runtime: envoyRuntime(),
    dynamic_resources: {
      ads_config: {
        api_type: opts.delta ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{
          envoy_grpc: { cluster_name: 'xds-grpc' },
          ...(opts.xdsToken ? { initial_metadata: [{ key: 'authorization', value: `Bearer ${opts.xdsToken}` }] } : {}),
        }],
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
        ...(opts.xdsCaFile ? { transport_socket: xdsTransportSocket(opts.xdsCaFile, opts.xdsServerName) } : {}),
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

export interface GrpcBootstrapOptions {
  nodeId: string;
  labels?: Record<string, string>;
  namespace?: string;
  /** HOST:PORT or unix:///path/to/xds.sock */
  xdsAddress: string;
  /** Extra node metadata. */
  metadata?: Record<string, string>;
}

/**
 * A gRPC xDS bootstrap (the file GRPC_XDS_BOOTSTRAP names) for a proxyless gRPC client, shaped like
 * the one Istio's agent writes: one ADS server (plaintext, xDS v3) and a node whose metadata says
 * GENERATOR "grpc", so that meshpilot serves it the gRPC flavour of the configuration.
 */
export function buildGrpcBootstrap(opts: GrpcBootstrapOptions): Record<string, unknown> {
  const parts = opts.nodeId.split('~');
  const podDotNs = parts[2] ?? '';
  const namespace = opts.namespace ?? (podDotNs.includes('.') ? podDotNs.slice(podDotNs.lastIndexOf('.') + 1) : 'default');
  if (!opts.xdsAddress.startsWith('unix:')) socketAddress(opts.xdsAddress);
  const ip = parts[1];
  return {
    xds_servers: [{ server_uri: opts.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: {
      id: opts.nodeId,
      cluster: `${podDotNs.split('.')[0] || 'proxyless'}.${namespace}`,
      locality: {},
      metadata: { ...(opts.metadata ?? {}), GENERATOR: 'grpc', NAMESPACE: namespace, LABELS: opts.labels ?? {}, ...(ip ? { INSTANCE_IPS: ip } : {}) },
    },
  };
}
