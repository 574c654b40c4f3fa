/** Gateway listeners: one per bind:port, a filter chain for plain HTTP and one per TLS-terminating server (SNI). */
import type { ConfigSnapshot } from '../registry/model.js';
import type { ProxyInfo } from '../proxy/node.js';
import type { GatewayServer, ListenerGroup } from './gateway-servers.js';
import { CORS_FILTER, FAULT_FILTER } from './route-action.js';
import { buildCaSecret, buildCertificateSecret, caSdsName, sdsConfig, sdsName } from './secrets.js';
import type { NamedResource } from './types.js';

type Obj = Record<string, unknown>;

export function httpConnectionManager(statPrefix: string, routeName: string): Obj {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      statPrefix,
      codecType: 'AUTO',
      rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: routeName },
      httpFilters: [
        { name: FAULT_FILTER, typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } },
        { name: CORS_FILTER, typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } },
        { name: 'envoy.filters.http.router', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
      ],
      useRemoteAddress: { value: true },
      normalizePath: { value: true },
      pathWithEscapedSlashesAction: 'KEEP_UNCHANGED',
      upgradeConfigs: [{ upgradeType: 'websocket' }],
      serverName: 'istio-envoy',
    },
  };
}

const TLS_VERSIONS: Record<string, string> = { TLS_AUTO: 'TLS_AUTO', TLSV1_0: 'TLSv1_0', TLSV1_1: 'TLSv1_1', TLSV1_2: 'TLSv1_2', TLSV1_3: 'TLSv1_3' };

export interface GatewayListenerResult {
  listeners: NamedResource[];
  secrets: NamedResource[];
  notes: string[];
}

function tlsChain(snapshot: ConfigSnapshot, proxy: ProxyInfo, s: GatewayServer, group: ListenerGroup, secrets: Map<string, NamedResource>, notes: string[]): Obj | undefined {
  const tls = s.server.tls!;
  const mutual = tls.mode === 'MUTUAL' || tls.mode === 'OPTIONAL_MUTUAL';
  const common: Obj = { alpnProtocols: ['h2', 'http/1.1'] };
  if (tls.credentialName || tls.credentialNames?.length) {
    const cred = tls.credentialName ?? tls.credentialNames![0];
    const secret = snapshot.secret(proxy.namespace, cred);
    const cert = secret && buildCertificateSecret(cred, secret);
    if (!cert) {
      notes.push(`Gateway ${s.gateway.metadata.namespace}/${s.gateway.metadata.name} server ${s.index}: secret ${proxy.namespace}/${cred} not found or has no tls.crt/tls.key; server skipped`);
      return undefined;
    }
    secrets.set(cert.name, cert);
    common.tlsCertificateSdsSecretConfigs = [sdsConfig(sdsName(cred))];
    if (mutual) {
      const caSecret = snapshot.secret(proxy.namespace, `${cred}-cacert`) ?? secret;
      const ca = caSecret && buildCaSecret(cred, caSecret);
      if (!ca) {
        notes.push(`Gateway ${s.gateway.metadata.namespace}/${s.gateway.metadata.name} server ${s.index}: MUTUAL needs ca.crt in ${cred} or ${cred}-cacert; server skipped`);
        return undefined;
      }
      secrets.set(caSdsName(cred), { name: caSdsName(cred), value: { ...ca.value, name: caSdsName(cred) } });
      common.validationContextSdsSecretConfig = sdsConfig(caSdsName(cred));
    }
  } else {
    common.tlsCertificates = [{ certificateChain: { filename: tls.serverCertificate }, privateKey: { filename: tls.privateKey } }];
    if (mutual && tls.caCertificates) common.validationContext = { trustedCa: { filename: tls.caCertificates } };
  }
  if (tls.minProtocolVersion || tls.maxProtocolVersion || tls.cipherSuites?.length) {
    common.tlsParams = {
      ...(tls.minProtocolVersion ? { tlsMinimumProtocolVersion: TLS_VERSIONS[tls.minProtocolVersion] } : {}),
      ...(tls.maxProtocolVersion ? { tlsMaximumProtocolVersion: TLS_VERSIONS[tls.maxProtocolVersion] } : {}),
      ...(tls.cipherSuites?.length ? { cipherSuites: tls.cipherSuites } : {}),
    };
  }
  const serverNames = [...new Set(s.server.hosts.map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h)).filter((h) => h !== '*'))].sort();
  return {
    name: s.routeName,
    ...(serverNames.length ? { filterChainMatch: { serverNames } } : {}),
    transportSocket: {
      name: 'envoy.transport_sockets.tls',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        commonTlsContext: common,
        ...(mutual ? { requireClientCertificate: { value: tls.mode === 'MUTUAL' } } : {}),
      },
    },
    filters: [httpConnectionManager(`outbound_${group.bind}_${group.port}`, s.routeName)],
  };
}

export function buildGatewayListeners(snapshot: ConfigSnapshot, proxy: ProxyInfo, groups: readonly ListenerGroup[]): GatewayListenerResult {
  const secrets = new Map<string, NamedResource>();
  const notes: string[] = [];
  const listeners: NamedResource[] = [];
  for (const group of groups) {
    const chains: Obj[] = [];
    const usedMatches = new Set<string>();
    let hasTls = false;
    let plainAdded = false;
    for (const s of group.servers) {
      if (s.kind === 'http') {
        if (plainAdded) continue;
        plainAdded = true;
        chains.push({ name: s.routeName, filters: [httpConnectionManager(`outbound_${group.bind}_${group.port}`, s.routeName)] });
      } else if (s.kind === 'https') {
        const chain = tlsChain(snapshot, proxy, s, group, secrets, notes);
        if (!chain) continue;
        const matchKey = JSON.stringify(chain.filterChainMatch ?? {});
        if (usedMatches.has(matchKey)) {
          notes.push(`Gateway ${s.gateway.metadata.namespace}/${s.gateway.metadata.name} server ${s.index}: hosts already served on port ${group.port} by another server; skipped`);
          continue;
        }
        usedMatches.add(matchKey);
        chains.push(chain);
        hasTls = true;
      } else {
        notes.push(`Gateway ${s.gateway.metadata.namespace}/${s.gateway.metadata.name} server ${s.index}: ${s.kind} servers are not translated yet`);
      }
    }
    if (chains.length === 0) continue;
    // TLS chains first (they match on SNI); a plain chain without a match is the fallback.
    chains.sort((a, b) => Number('filterChainMatch' in b) - Number('filterChainMatch' in a));
    if (hasTls && plainAdded) {
      for (const c of chains) {
        const m = (c.filterChainMatch as Obj | undefined) ?? {};
        c.filterChainMatch = { ...m, transportProtocol: c.transportSocket ? 'tls' : 'raw_buffer' };
      }
    }
    listeners.push({
      name: group.name,
      value: {
        name: group.name,
        address: { socketAddress: { address: group.bind, portValue: group.port } },
        filterChains: chains,
        ...(hasTls ? { listenerFilters: [{ name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }] } : {}),
        trafficDirection: 'OUTBOUND',
      },
    });
  }
  return { listeners, secrets: [...secrets.values()].sort((a, b) => a.name.localeCompare(b.name)), notes };
}
