/**
 * CSDS (envoy.service.status.v3.ClientStatusDiscoveryService): for each connected proxy, every
 * resource meshpilot last gave it, with its version and whether the proxy ACKed or NACKed it —
 * the same truth as /debug/syncz, in Envoy's own API.
 */
import { status as grpcStatus, type ServerDuplexStream, type ServiceDefinition } from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import { TYPE_URLS, RESOURCE_KINDS, type ResourceKind } from '../translator/types.js';
import { syncStateOf, type EncodeCache, type SyncState, type XdsStream } from './connection.js';
import { envoyRoot } from './protos.js';

const CSDS = 'envoy.service.status.v3.ClientStatusDiscoveryService';

export interface ClientStatusRequest {
  nodeMatchers?: Array<{ nodeId?: { exact?: string; prefix?: string; suffix?: string; safeRegex?: { regex?: string } } }>;
  node?: { id?: string };
  excludeResourceContents?: boolean;
}

interface GenericXdsConfig {
  typeUrl: string;
  name: string;
  versionInfo: string;
  xdsConfig?: { type_url: string; value: Uint8Array };
  configStatus: string;
  clientStatus: string;
  errorState?: { details: string; versionInfo: string };
}

export interface ClientStatusResponse {
  config: Array<{ node: { id: string; cluster?: string }; genericXdsConfigs: GenericXdsConfig[] }>;
}

const CONFIG_STATUS: Record<SyncState, string> = { SYNCED: 'SYNCED', 'NOT SENT': 'NOT_SENT', STALE: 'STALE', NACKED: 'ERROR' };

export function csdsServiceDefinition(): ServiceDefinition {
  const root = envoyRoot();
  const Req = root.lookupType('envoy.service.status.v3.ClientStatusRequest');
  const Res = root.lookupType('envoy.service.status.v3.ClientStatusResponse');
  const codec = {
    requestDeserialize: (buf: Buffer): ClientStatusRequest => Req.toObject(Req.decode(buf), { longs: Number, enums: String }) as ClientStatusRequest,
    requestSerialize: (m: ClientStatusRequest): Buffer => Buffer.from(Req.encode(Req.fromObject(m)).finish()),
    responseSerialize: (m: ClientStatusResponse): Buffer => Buffer.from(Res.encode(Res.fromObject(m)).finish()),
    responseDeserialize: (buf: Buffer): ClientStatusResponse => Res.toObject(Res.decode(buf), { longs: Number, enums: String, arrays: true }) as ClientStatusResponse,
  };
  return {
    FetchClientStatus: { path: `/${CSDS}/FetchClientStatus`, requestStream: false, responseStream: false, ...codec, originalName: 'fetchClientStatus' },
    // Bidirectional: every request on the stream is answered with the current status for its node matchers.
    StreamClientStatus: { path: `/${CSDS}/StreamClientStatus`, requestStream: true, responseStream: true, ...codec, originalName: 'streamClientStatus' },
  } as unknown as ServiceDefinition;
}

/**
 * Serves one StreamClientStatus call: each request gets one answer (`answer(req)`), in order; the
 * stream ends when the client ends it. A request that cannot be answered ends the call with INTERNAL.
 */
export function serveClientStatusStream(call: ServerDuplexStream<ClientStatusRequest, ClientStatusResponse>, answer: (req: ClientStatusRequest) => ClientStatusResponse, logger: Logger): void {
  call.on('data', (req: ClientStatusRequest) => {
    try {
      call.write(answer(req));
    } catch (err) {
      logger.error({ err }, 'CSDS stream request failed');
      call.emit('error', { code: grpcStatus.INTERNAL, details: `meshpilot: ${(err as Error).message}` });
    }
  });
  call.on('end', () => call.end());
  call.on('error', (err) => logger.debug({ err: String(err) }, 'CSDS stream error'));
}

/** Whether a node id passes the request's node matchers (all must match; none = every node). */
function matches(id: string, req: ClientStatusRequest): boolean {
  return (req.nodeMatchers ?? []).every((m) => {
    const s = m.nodeId;
    if (!s) return true;
    if (s.exact !== undefined && s.exact !== '') return id === s.exact;
    if (s.prefix) return id.startsWith(s.prefix);
    if (s.suffix) return id.endsWith(s.suffix);
    if (s.safeRegex?.regex) return new RegExp(`^(?:${s.safeRegex.regex})$`).test(id);
    return true;
  });
}

/** The CSDS answer for the connected proxies the request selects. */
export function clientStatus(streams: XdsStream[], req: ClientStatusRequest, cache: EncodeCache): ClientStatusResponse {
  const config: ClientStatusResponse['config'] = [];
  for (const s of streams) {
    if (!s.proxy || !matches(s.proxy.id, req)) continue;
    const status = s.status();
    const resources = s.currentResources();
    const generic: GenericXdsConfig[] = [];
    for (const kind of RESOURCE_KINDS) {
      const t = status.types[kind];
      if (!t || !resources) continue;
      const state = syncStateOf(t);
      const nacked = new Map((t.nackedResources ?? []).map((r) => [r.name, r]));
      const subscribed = t.subscribed === '*' ? undefined : new Set(t.subscribed);
      for (const r of resources[kind as ResourceKind]) {
        if (subscribed && !subscribed.has(r.name)) continue;
        const version = s.resourceVersion(kind, r.name);
        const nack = nacked.get(r.name) ?? (state === 'NACKED' && nacked.size === 0 ? t.lastNack : undefined);
        generic.push({
          typeUrl: TYPE_URLS[kind], name: r.name, versionInfo: version,
          ...(req.excludeResourceContents ? {} : { xdsConfig: cache.get(kind, r, version) }),
          configStatus: nack ? 'ERROR' : CONFIG_STATUS[state],
          clientStatus: nack ? 'NACKED' : state === 'SYNCED' ? 'ACKED' : 'REQUESTED',
          ...(nack ? { errorState: { details: nack.message, versionInfo: nack.version } } : {}),
        });
      }
    }
    config.push({ node: { id: s.proxy.id }, genericXdsConfigs: generic });
  }
  return { config };
}
