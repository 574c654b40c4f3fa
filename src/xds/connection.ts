/**
 * One ADS stream (State of the World): per type URL, what the proxy asked for, what we sent,
 * what it ACKed and what it rejected. A NACK keeps the last ACKed version in force and the
 * rejected version is never sent again; only new content is.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Metrics } from '../admin/metrics.js';
import type { ProxyInfo } from '../proxy/node.js';
import { RESOURCE_KINDS, TYPE_URLS, type NamedResource, type ResourceKind, type XdsResources } from '../translator/types.js';
import { encodeResource, type EncodedAny } from './encode.js';
import type { DiscoveryRequest, DiscoveryResponse } from './service.js';

export const KIND_BY_TYPE_URL = new Map<string, ResourceKind>(RESOURCE_KINDS.map((k) => [TYPE_URLS[k], k]));

/** Types whose resources Envoy asks for by name (the others are wildcard subscriptions). */
const NAMED_KINDS = new Set<ResourceKind>(['endpoints', 'routes', 'secrets']);

export interface NackRecord {
  version: string;
  nonce: string;
  message: string;
  at: string;
}

export interface TypeState {
  names: Set<string> | 'wildcard';
  versionSent?: string;
  nonceSent?: string;
  versionAcked?: string;
  lastNack?: NackRecord;
  /** Versions the proxy rejected: never sent again. */
  rejected: Set<string>;
  /** The rejected resources of each rejected version: they count as rejected again whenever that content is what the proxy should have. */
  rejectedNacks?: Map<string, Array<NackRecord & { name: string }>>;
  /** Rejected resources: those Envoy's error message names, else those changed since the last accepted version. */
  nacked?: Array<NackRecord & { name: string }>;
  /** name → content hash, of the last response sent and of the last one accepted. */
  sentHashes?: Map<string, string>;
  /** The subscription the last response answered (same object while it is unchanged). */
  sentNamesOf?: Set<string> | 'wildcard';
  ackedHashes?: Map<string, string>;
  /** What the last computed version was computed from (resource list and subscription objects). */
  versionOf?: { resources: readonly NamedResource[]; names: Set<string> | 'wildcard' };
}

export interface TypeSyncStatus {
  subscribed: string[] | '*';
  versionSent?: string;
  nonceSent?: string;
  versionAcked?: string;
  lastNack?: NackRecord;
  /** Delta: resources whose latest version sent the proxy rejected. */
  nackedResources?: Array<NackRecord & { name: string }>;
}

export interface ProxySyncStatus {
  id: string;
  connectedAt: string;
  /** State of the World or Delta xDS. */
  protocol?: 'sotw' | 'delta';
  types: Partial<Record<ResourceKind, TypeSyncStatus>>;
}

export type SyncState = 'SYNCED' | 'NOT SENT' | 'STALE' | 'NACKED';

/**
 * One type's state for one proxy, as istioctl proxy-status names them: nothing sent yet, the
 * latest response rejected, sent but not (yet) acknowledged, or acknowledged.
 */
export function syncStateOf(t: TypeSyncStatus | undefined): SyncState {
  if (!t || t.versionSent === undefined) return 'NOT SENT';
  if (t.nackedResources?.length || (t.lastNack && t.lastNack.nonce === t.nonceSent)) return 'NACKED';
  return t.versionAcked === t.versionSent ? 'SYNCED' : 'STALE';
}

/** Encoded resources shared across proxies: the same content is serialised once. */
export class EncodeCache {
  private entries = new Map<string, EncodedAny>();
  get(kind: ResourceKind, r: NamedResource, hash: string): EncodedAny {
    const key = `${kind}\u0000${r.name}\u0000${hash}`;
    let e = this.entries.get(key);
    if (!e) {
      e = encodeResource(kind, r.value, r.name);
      if (this.entries.size > 200_000) this.entries.clear();
      this.entries.set(key, e);
    }
    return e;
  }
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/**
 * Content hash of a resource value, computed once per value object: translator output is never
 * mutated after it is made, so a value that is reused (an endpoint-only update keeps the proxy's
 * other resources) is not hashed again.
 */
const valueHashes = new WeakMap<object, string>();
function resourceHash(value: object): string {
  let h = valueHashes.get(value);
  if (h === undefined) valueHashes.set(value, (h = hashOf(value)));
  return h;
}

/** What the server needs of a stream, State of the World or Delta. */
export interface XdsStream {
  readonly streamId: number;
  proxy?: ProxyInfo;
  setResources(resources: XdsResources): void;
  /** Sends every subscribed type whose content changed, in warming order; returns responses sent. */
  pushAll(): number;
  status(): ProxySyncStatus;
  currentResources(): XdsResources | undefined;
  /** The content hash (version) of one of the proxy's current resources. */
  resourceVersion(kind: ResourceKind, name: string): string;
  end?: () => void;
  /** Called when a push (not a request) changes what the proxy is considered to reject. */
  onNackChange?: () => void;
}

/**
 * What both protocols share: the proxy's generated resources with a content hash (its version)
 * per resource, per-type state, and pushes in warming order.
 */
export abstract class ResourceHolder<Res, St> {
  readonly connectedAt = new Date().toISOString();
  proxy?: ProxyInfo;
  protected resources?: XdsResources;
  /** Hash per resource of the current generation, keyed `kind/name`. */
  protected hashes = new Map<string, string>();
  private hashedKinds = new Set<ResourceKind>();
  protected types = new Map<ResourceKind, St>();
  protected nonceCounter = 0;
  onNackChange?: () => void;

  constructor(
    readonly streamId: number,
    protected readonly send: (res: Res) => void,
    protected readonly cache: EncodeCache,
    protected readonly logger: Logger,
    protected readonly metrics: Metrics,
  ) {}

  /** Sends one type's changes (or, with `always`, a response even when nothing changed); true if sent. */
  protected abstract respond(kind: ResourceKind, st: St, always: boolean): boolean;

  /** After new resources were set: send every subscribed type whose content changed, in warming order. */
  pushAll(): number {
    let sent = 0;
    for (const kind of RESOURCE_KINDS) {
      const st = this.types.get(kind);
      if (st && this.respond(kind, st, false)) sent++;
    }
    return sent;
  }

  /** Installs freshly generated resources (from the translator) for this proxy. */
  setResources(resources: XdsResources): void {
    // Hashes are taken when needed (resourceHash: once per resource value).
    this.resources = resources;
    this.hashes.clear();
    this.hashedKinds.clear();
  }

  currentResources(): XdsResources | undefined {
    return this.resources;
  }

  resourceVersion(kind: ResourceKind, name: string): string {
    // Filled per kind on first use after new resources; each value is hashed once (resourceHash).
    if (!this.hashedKinds.has(kind)) {
      this.hashedKinds.add(kind);
      for (const r of this.resources?.[kind] ?? []) this.hashes.set(`${kind}/${r.name}`, resourceHash(r.value));
    }
    return this.hashes.get(`${kind}/${name}`) ?? '';
  }
}

export class AdsConnection extends ResourceHolder<DiscoveryResponse, TypeState> implements XdsStream {
  /** Handles one DiscoveryRequest; returns nothing, sends zero or one response. */
  onRequest(req: DiscoveryRequest): void {
    const typeUrl = req.typeUrl ?? '';
    const kind = KIND_BY_TYPE_URL.get(typeUrl);
    if (!kind) {
      this.logger.warn({ proxy: this.proxy?.id, typeUrl }, 'request for an unsupported type; ignored');
      return;
    }
    let st = this.types.get(kind);
    const requested = req.resourceNames ?? [];
    const names: Set<string> | 'wildcard' = !NAMED_KINDS.has(kind) && (requested.length === 0 || requested.includes('*')) ? 'wildcard' : new Set(requested);
    if (!st) {
      st = { names, rejected: new Set() };
      this.types.set(kind, st);
    }
    const nonce = req.responseNonce ?? '';
    if (nonce !== '' && nonce !== st.nonceSent) {
      this.logger.debug({ proxy: this.proxy?.id, kind, nonce, expected: st.nonceSent }, 'stale nonce; request ignored');
      return;
    }
    const namesChanged = !sameNames(st.names, names);
    // Kept as the same object when equal: respond() recognises an unchanged subscription by identity.
    if (namesChanged) st.names = names;
    if (nonce !== '' && req.errorDetail && (req.errorDetail.message || req.errorDetail.code)) {
      const rejected = st.versionSent ?? '';
      st.lastNack = { version: rejected, nonce, message: req.errorDetail.message ?? `code ${req.errorDetail.code}`, at: new Date().toISOString() };
      st.rejected.add(rejected);
      const nack = st.lastNack;
      const inResponse = [...(st.sentHashes?.keys() ?? [])];
      const named = inResponse.filter((n) => nack.message.includes(n));
      const changed = inResponse.filter((n) => st!.sentHashes?.get(n) !== st!.ackedHashes?.get(n));
      st.nacked = (named.length ? named : changed).map((name) => ({ name, ...nack }));
      (st.rejectedNacks ??= new Map()).set(rejected, st.nacked);
      this.metrics.nacks.inc({ type: kind });
      this.logger.warn({ proxy: this.proxy?.id, kind, version: rejected, names: this.resourceNames(kind, st), error: st.lastNack.message }, 'proxy rejected configuration (NACK); keeping last accepted version');
      if (!namesChanged) return;
    } else if (nonce !== '') {
      st.versionAcked = st.versionSent;
      st.ackedHashes = st.sentHashes;
      st.nacked = undefined;
      if (!namesChanged) return;
    }
    this.respond(kind, st, nonce === '' || namesChanged);
  }

  private selected(kind: ResourceKind, st: TypeState): NamedResource[] {
    const all = this.resources?.[kind] ?? [];
    if (st.names === 'wildcard') return all;
    const names = st.names;
    return all.filter((r) => names.has(r.name));
  }

  private resourceNames(kind: ResourceKind, st: TypeState): string[] {
    return this.selected(kind, st).map((r) => r.name);
  }

  protected respond(kind: ResourceKind, st: TypeState, force: boolean): boolean {
    if (!this.resources) return false;
    // The same resource list (e.g. kept by an endpoint-only update) and subscription as when the
    // version was last computed: same version, and nothing was or will be sent for it unforced.
    const from = st.versionOf;
    if (!force && from && from.resources === this.resources[kind] && from.names === st.names) return false;
    const chosen = this.selected(kind, st);
    const version = hashOf(chosen.map((r) => [r.name, resourceHash(r.value)]));
    st.versionOf = { resources: this.resources[kind], names: st.names };
    if (!force && version === st.versionSent) {
      // Back to what the proxy has accepted (e.g. a rejected change undone): nothing is rejected.
      if (st.versionAcked === version) this.setNacked(st, undefined);
      return false;
    }
    if (st.rejected.has(version)) {
      this.logger.debug({ proxy: this.proxy?.id, kind, version }, 'not resending a version the proxy rejected');
      // The proxy should have content it rejected before: it is rejecting it still.
      this.setNacked(st, st.rejectedNacks?.get(version));
      return false;
    }
    // EDS in State of the World: Envoy keeps named resources that a response leaves out, so once the
    // proxy has accepted everything it was sent, only changed ClusterLoadAssignments go out (as
    // Istio's incremental EDS); a forced answer, a new subscription or an unacknowledged previous
    // response gets the full set.
    const partial = kind === 'endpoints' && !force && st.sentHashes !== undefined && st.versionAcked === st.versionSent && st.sentNamesOf === st.names
      ? chosen.filter((r) => st.sentHashes!.get(r.name) !== resourceHash(r.value))
      : undefined;
    const toSend = partial && partial.length > 0 ? partial : chosen;
    let encoded: EncodedAny[];
    try {
      encoded = toSend.map((r) => this.cache.get(kind, r, resourceHash(r.value)));
    } catch (err) {
      this.logger.error({ err, proxy: this.proxy?.id, kind }, 'could not encode resources; keeping the previous version');
      return false;
    }
    const nonce = `${this.streamId}-${++this.nonceCounter}`;
    st.versionSent = version;
    st.nonceSent = nonce;
    st.sentHashes = new Map(chosen.map((r) => [r.name, this.resourceVersion(kind, r.name)]));
    st.sentNamesOf = st.names;
    this.send({ versionInfo: version, resources: encoded, typeUrl: TYPE_URLS[kind], nonce });
    this.metrics.pushes.inc({ type: kind });
    this.logger.debug({ proxy: this.proxy?.id, kind, version, nonce, count: encoded.length }, 'sent');
    return true;
  }

  private setNacked(st: TypeState, nacked: TypeState['nacked']): void {
    if ((st.nacked?.length ?? 0) === 0 && (nacked?.length ?? 0) === 0) return;
    if (st.nacked === nacked) return;
    st.nacked = nacked;
    this.onNackChange?.();
  }

  status(): ProxySyncStatus {
    const types: ProxySyncStatus['types'] = {};
    for (const [kind, st] of this.types) {
      types[kind] = {
        subscribed: st.names === 'wildcard' ? '*' : [...st.names].sort(),
        versionSent: st.versionSent,
        nonceSent: st.nonceSent,
        versionAcked: st.versionAcked,
        lastNack: st.lastNack,
        ...(st.nacked?.length ? { nackedResources: st.nacked } : {}),
      };
    }
    return { id: this.proxy?.id ?? `stream-${this.streamId}`, connectedAt: this.connectedAt, protocol: 'sotw', types };
  }
}

function sameNames(a: Set<string> | 'wildcard', b: Set<string> | 'wildcard'): boolean {
  if (a === 'wildcard' || b === 'wildcard') return a === b;
  if (a.size !== b.size) return false;
  for (const n of a) if (!b.has(n)) return false;
  return true;
}
