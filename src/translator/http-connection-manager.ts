/** The HTTP connection manager network filter, configured as Istio configures it. */
export const FAULT_FILTER = 'envoy.filters.http.fault';
export const CORS_FILTER = 'envoy.filters.http.cors';
export const ROUTER_FILTER = 'envoy.filters.http.router';
export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';

type Obj = Record<string, unknown>;

export interface HcmOptions {
  /** Gateways trust the peer address (true); sidecar outbound relies on x-forwarded-for (false). */
  useRemoteAddress: boolean;
  /** Gateways sanitize then set x-forwarded-client-cert for mTLS clients. */
  forwardClientCert?: boolean;
}

export function adsConfigSource(): Obj {
  return { ads: {}, initialFetchTimeout: { seconds: 0, nanos: 0 }, resourceApiVersion: 'V3' };
}

export function httpConnectionManager(statPrefix: string, routeName: string, opts: HcmOptions = { useRemoteAddress: false }): Obj {
  return {
    name: HCM_FILTER,
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      statPrefix,
      codecType: 'AUTO',
      rds: { configSource: adsConfigSource(), routeConfigName: routeName },
      // The fault and CORS filters do nothing unless a route configures them (typedPerFilterConfig).
      httpFilters: [
        { name: FAULT_FILTER, typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } },
        { name: CORS_FILTER, typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } },
        { name: ROUTER_FILTER, typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
      ],
      useRemoteAddress: { value: opts.useRemoteAddress },
      // Istio's default path normalization (BASE): RFC 3986 normalization, escaped slashes untouched.
      normalizePath: { value: true },
      pathWithEscapedSlashesAction: 'KEEP_UNCHANGED',
      upgradeConfigs: [{ upgradeType: 'websocket' }],
      streamIdleTimeout: { seconds: 0, nanos: 0 },
      httpProtocolOptions: {},
      serverName: 'istio-envoy',
      ...(opts.forwardClientCert ? {
        forwardClientCertDetails: 'SANITIZE_SET',
        setCurrentClientCertDetails: { subject: { value: true }, cert: true, dns: true, uri: true },
      } : {}),
    },
  };
}
