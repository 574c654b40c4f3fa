/**
 * An in-repo ADS load client: N simulated proxies, each its own HTTP/2 connection (test/helpers/grpc-stream.ts), that
 * subscribe the way Envoy does (CDS and LDS wildcard, then EDS for the EDS clusters and RDS for
 * the route configurations the listeners name) and ACK every response. It records when each type
 * was last ACKed at which version, so a benchmark can time "change → every proxy ACKed".
 *
 * The protocol lives behind `AdsProtocol`: State of the World (StreamAggregatedResources) or
 * Delta (DeltaAggregatedResources, where a type's version is the response's system_version_info).
 */
import { performance } from 'node:perf_hooks';
import type { Type } from 'protobufjs';
import { RESOURCE_KINDS, TYPE_URLS, type ResourceKind } from '../src/translator/types.js';
import { decodeResource, jsToStruct } from '../src/xds/encode.js';
import { envoyRoot } from '../src/xds/protos.js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse } from '../src/xds/service.js';
import { ENVOY_WINDOW, GrpcStream } from '../test/helpers/grpc-stream.js';

export type AdsMode = 'sotw' | 'delta';

export interface AckRecord { version: string; at: number; resources: number; bytes: number }

export interface SimulatedProxy {
  readonly nodeId: string;
  /** Last ACK per type (performance.now() time). */
  readonly acks: Map<ResourceKind, AckRecord>;
  /** Responses received per type since connecting. */
  readonly received: Map<ResourceKind, number>;
  readonly errors: string[];
  close(): void;
}

/** One protocol variant (SotW, later Delta) of a simulated proxy. */
export interface AdsProtocol {
  connect(address: string, nodeId: string, labels: Record<string, string>): SimulatedProxy;
}

const KIND_OF = new Map<string, ResourceKind>(RESOURCE_KINDS.map((k) => [TYPE_URLS[k], k]));
const HCM = 'envoy.filters.network.http_connection_manager';

type Obj = Record<string, unknown>;

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

/**
 * An ADS stream of one simulated proxy (its own HTTP/2 connection, as with real Envoys): requests
 * encoded and responses decoded with the Envoy protos. A decoded response's bytes are views valid
 * only while `onResponse` runs (see test/helpers/grpc-stream.ts).
 */
function adsStream<Req, Res>(address: string, method: string, reqType: string, resType: string, onResponse: (res: Res) => void, onError: (msg: string) => void) {
  const root = envoyRoot();
  const ReqT: Type = root.lookupType(reqType);
  const ResT: Type = root.lookupType(resType);
  const stream = new GrpcStream(address, `${ADS}/${method}`, (bytes) => onResponse(ResT.toObject(ResT.decode(bytes), { longs: Number, enums: String }) as Res), onError, { window: ENVOY_WINDOW });
  return {
    write: (req: Req) => stream.write(ReqT.encode(ReqT.fromObject(req as Record<string, unknown>)).finish()),
    close: () => stream.close(),
  };
}

/** EDS cluster names of a CDS response. */
function edsClusters(res: { resources: Array<{ value: Uint8Array }> }): string[] {
  return res.resources.map((a) => decodeResource('clusters', a.value)).filter((c) => c.type === 'EDS').map((c) => String(c.name)).sort();
}

/** Route configuration names the listeners of an LDS response refer to. */
function rdsNames(res: { resources: Array<{ value: Uint8Array }> }): string[] {
  const names = new Set<string>();
  for (const a of res.resources) {
    const l = decodeResource('listeners', a.value);
    for (const fc of (l.filterChains as Obj[] | undefined) ?? []) for (const f of (fc.filters as Obj[] | undefined) ?? []) {
      if (f.name !== HCM) continue;
      // The typed config is an Any: decode the HCM to read its RDS name.
      const tc = f.typedConfig as { value?: Uint8Array } | undefined;
      if (!tc?.value) continue;
      const hcm = decodeAny('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', tc.value);
      const n = (hcm.rds as { routeConfigName?: string } | undefined)?.routeConfigName;
      if (n) names.add(n);
    }
  }
  return [...names].sort();
}

function decodeAny(typeName: string, bytes: Uint8Array): Obj {
  const t = envoyRoot().lookupType(typeName);
  return t.toObject(t.decode(bytes), { enums: String, longs: Number }) as Obj;
}

export class SotwProtocol implements AdsProtocol {
  connect(address: string, nodeId: string, labels: Record<string, string>): SimulatedProxy {
    const acks = new Map<ResourceKind, AckRecord>();
    const received = new Map<ResourceKind, number>();
    const errors: string[] = [];
    const subscribed = new Map<ResourceKind, string[]>([['clusters', []], ['listeners', []]]);
    const node = { id: nodeId, cluster: 'load-client', metadata: jsToStruct({ LABELS: labels }) };
    let first = true;
    const send = (req: DiscoveryRequest) => {
      call.write(first ? { ...req, node } : req);
      first = false;
    };
    const subscribe = (kind: ResourceKind, names: string[]) => {
      const prev = subscribed.get(kind);
      if (prev && prev.join('\u0000') === names.join('\u0000')) return;
      subscribed.set(kind, names);
      send({ typeUrl: TYPE_URLS[kind], resourceNames: names });
    };
    const onResponse = (res: DiscoveryResponse) => {
      const kind = KIND_OF.get(res.typeUrl);
      if (!kind) return;
      received.set(kind, (received.get(kind) ?? 0) + 1);
      try {
        // Envoy ACKs CDS/LDS after asking for what they reference (EDS/RDS follow the warming order).
        if (kind === 'clusters') subscribe('endpoints', edsClusters(res));
        if (kind === 'listeners') subscribe('routes', rdsNames(res));
        send({ typeUrl: res.typeUrl, versionInfo: res.versionInfo, responseNonce: res.nonce, resourceNames: subscribed.get(kind) ?? [] });
        acks.set(kind, { version: res.versionInfo, at: performance.now(), resources: res.resources.length, bytes: res.resources.reduce((n, a) => n + a.value.length, 0) });
      } catch (err) {
        errors.push(`${kind}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    const call = adsStream<DiscoveryRequest, DiscoveryResponse>(address, 'StreamAggregatedResources',
      'envoy.service.discovery.v3.DiscoveryRequest', 'envoy.service.discovery.v3.DiscoveryResponse', onResponse, (e) => errors.push(e));
    send({ typeUrl: TYPE_URLS.clusters, resourceNames: [] });
    send({ typeUrl: TYPE_URLS.listeners, resourceNames: [] });
    return {
      nodeId, acks, received, errors,
      close() {
        call.close();
      },
    };
  }
}

/**
 * Delta: CDS and LDS as wildcard subscriptions; EDS and RDS names subscribed and unsubscribed as
 * the clusters and listeners the proxy holds come and go; every response ACKed by its nonce.
 */
export class DeltaProtocol implements AdsProtocol {
  connect(address: string, nodeId: string, labels: Record<string, string>): SimulatedProxy {
    const acks = new Map<ResourceKind, AckRecord>();
    const received = new Map<ResourceKind, number>();
    const errors: string[] = [];
    // Per parent resource (cluster / listener), the child names it needs (EDS / RDS).
    const children = { clusters: new Map<string, string[]>(), listeners: new Map<string, string[]>() };
    const subscribed = { endpoints: new Set<string>(), routes: new Set<string>() };
    const node = { id: nodeId, cluster: 'load-client', metadata: jsToStruct({ LABELS: labels }) };
    let first = true;
    const send = (req: DeltaDiscoveryRequest) => {
      call.write(first ? { ...req, node } : req);
      first = false;
    };
    const resubscribe = (kind: 'endpoints' | 'routes', parents: Map<string, string[]>) => {
      const want = new Set([...parents.values()].flat());
      const add = [...want].filter((n) => !subscribed[kind].has(n));
      const drop = [...subscribed[kind]].filter((n) => !want.has(n));
      if (add.length === 0 && drop.length === 0) return;
      subscribed[kind] = want;
      send({ typeUrl: TYPE_URLS[kind], resourceNamesSubscribe: add, resourceNamesUnsubscribe: drop });
    };
    const onResponse = (res: DeltaDiscoveryResponse) => {
      const kind = KIND_OF.get(res.typeUrl);
      if (!kind) return;
      received.set(kind, (received.get(kind) ?? 0) + 1);
      try {
        const resources = res.resources ?? [];
        if (kind === 'clusters' || kind === 'listeners') {
          const m = children[kind];
          for (const name of res.removedResources ?? []) m.delete(name);
          for (const r of resources) m.set(r.name, kind === 'clusters' ? edsClusters({ resources: [r.resource] }) : rdsNames({ resources: [r.resource] }));
          resubscribe(kind === 'clusters' ? 'endpoints' : 'routes', m);
        }
        send({ typeUrl: res.typeUrl, responseNonce: res.nonce });
        acks.set(kind, { version: res.systemVersionInfo, at: performance.now(), resources: resources.length, bytes: resources.reduce((n, r) => n + r.resource.value.length, 0) });
      } catch (err) {
        errors.push(`${kind}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    const call = adsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(address, 'DeltaAggregatedResources',
      'envoy.service.discovery.v3.DeltaDiscoveryRequest', 'envoy.service.discovery.v3.DeltaDiscoveryResponse', onResponse, (e) => errors.push(e));
    send({ typeUrl: TYPE_URLS.clusters });
    send({ typeUrl: TYPE_URLS.listeners });
    return {
      nodeId, acks, received, errors,
      close() {
        call.close();
      },
    };
  }
}

export function protocolFor(mode: AdsMode): AdsProtocol {
  switch (mode) {
    case 'sotw': return new SotwProtocol();
    case 'delta': return new DeltaProtocol();
  }
}

/** Connects N proxies in batches (bounded concurrency of connection setup). */
export async function connectProxies(protocol: AdsProtocol, address: string, ids: ReadonlyArray<{ nodeId: string; labels: Record<string, string> }>, batch = 50): Promise<SimulatedProxy[]> {
  const out: SimulatedProxy[] = [];
  for (let i = 0; i < ids.length; i += batch) {
    for (const p of ids.slice(i, i + batch)) out.push(protocol.connect(address, p.nodeId, p.labels));
    await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}
