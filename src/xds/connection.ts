/**
 * One ADS stream (State of the World): per type URL, what the proxy asked for, what we sent,
 * what it ACKed and what it rejected. A NACK keeps the last ACKed version in force and the
 * rejected version is never sent again; only new content is.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../admin/metrics.js';
import type { ProxyInfo } from '../proxy/node.js';
import { createHash } from 'node:crypto';
import { hashOf } from '../translator/interning.js';
import { RESOURCE_KINDS, TYPE_URLS, type NamedResource, type ResourceKind, type XdsResources } from '../translator/types.js';
import { DigestMap } from './digest.js';
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
  /**
   * Versions the proxy rejected, with the resources rejected in each: never sent again, and counted
   * as rejected again whenever that content is what the proxy should have.
   */
  rejected: Map<string, Array<NackRecord & { name: string }>>;
  /** Rejected resources: those Envoy's error message names, else those changed since the last accepted version. */
  nacked?: Array<NackRecord & { name: string }>;
  /** Names of the proxy's resources changed since `view` was brought up to date. */
  dirty: Changed;
  /** The subscribed resources now (name → content hash) and their version, for the subscription `viewOf`. */
  view?: DigestMap;
  viewOf?: Set<string> | 'wildcard';
  /** name → content hash of the last response sent (every subscribed resource then), and its subscription. */
  sent?: Map<string, string>;
  sentNamesOf?: Set<string> | 'wildcard';
  /** Names where `view` may differ from `sent` ('all': any). */
  unsent: Changed;
  /** name → content hash of the last response accepted. */
  acked?: Map<string, string>;
  /** Names where `sent` may differ from `acked` ('all': any). */
  unacked: Changed;
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

/**
 * Per resource value object, its version and (once made) its encoding: translator output is never
 * mutated after it is made, so a value that is reused (shared between proxies, kept across
 * generations) is versioned and encoded once, and both go with the object.
 */
const perValue = new WeakMap<object, { version: string; encoded?: EncodedAny }>();

/**
 * Encoded resources shared across proxies, and resource versions. A resource's version is a hash
 * of its protobuf encoding (so the encoding, which sending needs anyway, is made when the version
 * is first asked for, and equal content gives an equal version in every process); the same
 * content is serialised once.
 *
 * The encoding of a resource value object lives as long as that object (translator output in use
 * by the memo or a connection); beside that, encodings by content are kept in a bounded LRU, so
 * that equal content made as another object (another sidecar group, a change undone) is not
 * encoded again. Old versions then cost at most that bound: a long-running meshpilot whose
 * configuration changes all the time does not keep every route configuration it ever sent.
 */
export class EncodeCache {
  /** `kind/name/hash` → encoded, least recently used first. */
  private readonly entries = new Map<string, EncodedAny>();
  private bytes = 0;

  /**
   * @param maxBytes bound on the encoded bytes the LRU holds; the least recently used go first. One
   *   name can have many contents at once (a route configuration `8080` differs per namespace), so
   *   the bound is on bytes, not on versions per name. Encodings of objects in use are kept apart
   *   from it.
   */
  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}

  /**
   * The version of a resource: 16 hex digits of SHA-256 over its encoding. Content that cannot be
   * encoded gets a hash of its JSON text instead (sending it then fails with the encoding error).
   */
  version(kind: ResourceKind, r: NamedResource): string {
    const known = perValue.get(r.value);
    if (known) return known.version;
    let e: EncodedAny;
    try {
      e = encodeResource(kind, r.value, r.name);
    } catch {
      const version = `json-${hashOf(r.value)}`;
      perValue.set(r.value, { version });
      return version;
    }
    const version = createHash('sha256').update(e.value).digest('hex').slice(0, 16);
    perValue.set(r.value, { version, encoded: this.put(`${kind}/${r.name}/${version}`, e) });
    return version;
  }

  /** The encoding of a resource whose version is `hash` (see {@link version}). */
  get(kind: ResourceKind, r: NamedResource, hash: string): EncodedAny {
    const known = perValue.get(r.value);
    if (known?.encoded) return known.encoded;
    const key = `${kind}/${r.name}/${hash}`;
    let e = this.entries.get(key);
    if (e) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, e);
    } else {
      e = this.put(key, encodeResource(kind, r.value, r.name));
    }
    // Kept with the object once its version is known (`hash` is then that version).
    if (known) known.encoded = e;
    return e;
  }

  private put(key: string, e: EncodedAny): EncodedAny {
    const known = this.entries.get(key);
    if (known) return known;
    this.entries.set(key, e);
    this.bytes += e.value.length;
    for (const [k, old] of this.entries) {
      if (this.bytes <= this.maxBytes || k === key) break;
      this.entries.delete(k);
      this.bytes -= old.value.length;
    }
    return e;
  }

  /** Encoded bytes held now. */
  get size(): number {
    return this.bytes;
  }
}

/** What the server needs of a stream, State of the World or Delta. */
export interface XdsStream {
  readonly streamId: number;
  proxy?: ProxyInfo;
  /** Installs a full generation of the proxy's resources (from the translator). */
  setResources(resources: XdsResources): void;
  /**
   * Replaces some of the proxy's current resources of one kind, by name (names it does not have
   * are ignored); costs what was updated, not what the proxy has.
   */
  updateResources(kind: ResourceKind, updated: readonly NamedResource[]): void;
  /** Sends every subscribed type whose content changed, in warming order; returns responses sent. */
  pushAll(): number;
  status(): ProxySyncStatus;
  currentResources(): XdsResources | undefined;
  /** The proxy's current resources of one kind (undefined before the first generation). */
  currentOf(kind: ResourceKind): readonly NamedResource[] | undefined;
  /** The content hash (version) of one of the proxy's current resources. */
  resourceVersion(kind: ResourceKind, name: string): string;
  end?: () => void;
  /** Called when a push (not a request) changes what the proxy is considered to reject. */
  onNackChange?: () => void;
}

/** Names of resources changed since a type's state last looked ('all': the whole list was replaced). */
export type Changed = Set<string> | 'all';

/**
 * What both protocols share: the proxy's generated resources with a content hash (its version)
 * per resource, per-type state, and pushes in warming order. Every type state carries the names
 * changed since it last looked (`dirty`), so a push after a few resources were updated by name
 * costs what changed, not what the proxy has.
 */
export abstract class ResourceHolder<Res, St extends { dirty: Changed }> {
  readonly connectedAt = new Date().toISOString();
  proxy?: ProxyInfo;
  /** The resources as last given in full; a kind in `stale` has been updated by name since (see `index`). */
  private given?: XdsResources;
  /** Per kind, the current resources by name (made on first use after the kind's list was given). */
  private readonly index = new Map<ResourceKind, Map<string, NamedResource>>();
  private readonly stale = new Set<ResourceKind>();
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

  setResources(resources: XdsResources): void {
    const prev = this.given;
    for (const kind of RESOURCE_KINDS) {
      // The same list (kept by the generator) is the same content; versions are taken when needed (EncodeCache.version).
      if (prev && prev[kind] === resources[kind] && !this.stale.has(kind)) continue;
      // Generations share unchanged resources by reference (the translator's shared outbound side,
      // endpoint updates): only the names whose object changed need looking at.
      const changed = prev ? changedNames(this.indexOf(kind), resources[kind]) : 'all';
      this.index.delete(kind);
      this.stale.delete(kind);
      this.markChanged(kind, changed);
    }
    this.given = resources;
  }

  updateResources(kind: ResourceKind, updated: readonly NamedResource[]): void {
    if (!this.given) throw new Error(`stream ${this.streamId}: ${kind} updated before any resources were set`);
    const index = this.indexOf(kind);
    const changed: string[] = [];
    for (const r of updated) {
      const old = index.get(r.name);
      if (!old || old === r || this.cache.version(kind, old) === this.cache.version(kind, r)) continue;
      index.set(r.name, r);
      changed.push(r.name);
    }
    if (changed.length === 0) return;
    this.stale.add(kind);
    this.markChanged(kind, changed);
  }

  currentResources(): XdsResources | undefined {
    for (const kind of [...this.stale]) this.currentOf(kind);
    return this.given;
  }

  currentOf(kind: ResourceKind): readonly NamedResource[] | undefined {
    if (!this.given) return undefined;
    if (this.stale.has(kind)) {
      // Updated by name since given: the list is made again (in its order) when somebody reads it.
      const index = this.indexOf(kind);
      this.given = { ...this.given, [kind]: this.given[kind].map((r) => index.get(r.name) ?? r) };
      this.stale.delete(kind);
    }
    return this.given[kind];
  }

  resourceVersion(kind: ResourceKind, name: string): string {
    const r = this.current(kind, name);
    return r ? this.cache.version(kind, r) : '';
  }

  protected hasResources(): boolean {
    return this.given !== undefined;
  }

  /** One current resource by name. */
  protected current(kind: ResourceKind, name: string): NamedResource | undefined {
    return this.indexOf(kind).get(name);
  }

  /** The current resources of one kind by name, in the order given. */
  protected indexOf(kind: ResourceKind): Map<string, NamedResource> {
    let m = this.index.get(kind);
    if (!m) {
      m = new Map((this.given?.[kind] ?? []).map((r) => [r.name, r]));
      this.index.set(kind, m);
    }
    return m;
  }

  private markChanged(kind: ResourceKind, names: readonly string[] | 'all'): void {
    const st = this.types.get(kind);
    if (!st) return;
    if (names === 'all') st.dirty = 'all';
    else if (st.dirty !== 'all') for (const n of names) st.dirty.add(n);
  }
}

/**
 * Names whose resource is not the same object in `next` as in `current` (added, removed or
 * replaced), or 'all' when that is most of them. A replaced object with equal content is found
 * equal later, by its hash.
 */
function changedNames(current: ReadonlyMap<string, NamedResource>, next: readonly NamedResource[]): string[] | 'all' {
  const changed: string[] = [];
  const limit = Math.max(8, next.length >> 1);
  for (const r of next) {
    const old = current.get(r.name);
    if (!old || (old !== r && old.value !== r.value)) changed.push(r.name);
    if (changed.length > limit) return 'all';
  }
  if (current.size + changed.length > next.length) {
    const names = new Set(next.map((r) => r.name));
    for (const n of current.keys()) if (!names.has(n)) changed.push(n);
  }
  return changed.length > limit ? 'all' : changed;
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
    const wildcard = !NAMED_KINDS.has(kind) && (requested.length === 0 || requested.includes('*'));
    // Every ACK repeats the whole subscription: the current one is kept when it is the same.
    const names: Set<string> | 'wildcard' = wildcard ? 'wildcard' : st && sameAsRequested(st.names, requested) ? st.names : new Set(requested);
    if (!st) {
      st = { names, rejected: new Map(), dirty: 'all', unsent: 'all', unacked: 'all' };
      this.types.set(kind, st);
    }
    const nonce = req.responseNonce ?? '';
    if (nonce !== '' && nonce !== st.nonceSent) {
      this.logger.debug({ proxy: this.proxy?.id, kind, nonce, expected: st.nonceSent }, 'stale nonce; request ignored');
      return;
    }
    const namesChanged = names !== st.names && !sameNames(st.names, names);
    // Kept as the same object when equal: respond() recognises an unchanged subscription by identity.
    if (namesChanged) st.names = names;
    if (nonce !== '' && req.errorDetail && (req.errorDetail.message || req.errorDetail.code)) {
      const rejected = st.versionSent ?? '';
      const nack: NackRecord = { version: rejected, nonce, message: req.errorDetail.message ?? `code ${req.errorDetail.code}`, at: new Date().toISOString() };
      st.lastNack = nack;
      st.nacked = nackedNames(st, nack.message).map((name) => ({ name, ...nack }));
      st.rejected.set(rejected, st.nacked);
      this.metrics.nacks.inc({ type: kind });
      this.logger.warn({ proxy: this.proxy?.id, kind, version: rejected, names: [...(st.view?.keys() ?? [])], error: nack.message }, 'proxy rejected configuration (NACK); keeping last accepted version');
      if (!namesChanged) return;
    } else if (nonce !== '') {
      st.versionAcked = st.versionSent;
      acknowledge(st);
      st.nacked = undefined;
      if (!namesChanged) return;
    }
    this.respond(kind, st, nonce === '' || namesChanged);
  }

  protected respond(kind: ResourceKind, st: TypeState, force: boolean): boolean {
    if (!this.hasResources()) return false;
    // Neither the resources nor the subscription changed since the version was last computed: same
    // version, and nothing was or will be sent for it unforced.
    const unchanged = !force && st.viewOf === st.names && st.dirty !== 'all' && st.dirty.size === 0;
    const view = unchanged ? st.view! : this.refreshView(kind, st);
    const version = view.version();
    if (unchanged || (!force && version === st.versionSent)) {
      // A rejected version wanted again (after a request changed what is rejected) still counts as rejected.
      if (version !== st.versionSent && st.rejected.has(version)) this.setNacked(st, st.rejected.get(version));
      // Back to what the proxy has accepted (e.g. a rejected change undone): nothing is rejected.
      if (version === st.versionSent && st.versionAcked === version) this.setNacked(st, undefined);
      return false;
    }
    if (st.rejected.has(version)) {
      this.logger.debug({ proxy: this.proxy?.id, kind, version }, 'not resending a version the proxy rejected');
      // The proxy should have content it rejected before: it is rejecting it still.
      this.setNacked(st, st.rejected.get(version));
      return false;
    }
    // EDS in State of the World: Envoy keeps named resources that a response leaves out, so once the
    // proxy has accepted everything it was sent, only changed ClusterLoadAssignments go out (as
    // Istio's incremental EDS); a forced answer, a new subscription or an unacknowledged previous
    // response gets the full set.
    const partial = kind === 'endpoints' && !force && st.sent !== undefined && st.versionAcked === st.versionSent && st.sentNamesOf === st.names
      ? this.changedSinceSent(kind, st, view)
      : undefined;
    const toSend = partial && partial.length > 0 ? partial : (this.currentOf(kind) ?? []).filter((r) => view.has(r.name));
    let encoded: EncodedAny[];
    try {
      encoded = toSend.map((r) => this.cache.get(kind, r, this.cache.version(kind, r)));
    } catch (err) {
      this.logger.error({ err, proxy: this.proxy?.id, kind }, 'could not encode resources; keeping the previous version');
      return false;
    }
    const nonce = `${this.streamId}-${++this.nonceCounter}`;
    st.versionSent = version;
    st.nonceSent = nonce;
    recordSent(st, view);
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

  /** Brings the type's view of its subscribed resources up to date: the changed names only, or all after a new list or subscription. */
  private refreshView(kind: ResourceKind, st: TypeState): DigestMap {
    const names = st.names;
    if (st.dirty === 'all' || !st.view || st.viewOf !== names) {
      const view = new DigestMap();
      if (names === 'wildcard') for (const r of this.indexOf(kind).values()) view.set(r.name, this.cache.version(kind, r));
      else for (const n of names) { const r = this.current(kind, n); if (r) view.set(n, this.cache.version(kind, r)); }
      st.view = view;
      st.viewOf = names;
      st.unsent = 'all';
    } else {
      for (const n of st.dirty) {
        const r = this.current(kind, n);
        const hash = r && (names === 'wildcard' || names.has(n)) ? this.cache.version(kind, r) : undefined;
        if (st.view.get(n) === hash) continue;
        st.view.put(n, hash);
        if (st.unsent !== 'all') st.unsent.add(n);
      }
    }
    st.dirty = new Set();
    return st.view;
  }

  /** The subscribed resources whose content differs from the last response sent. */
  private changedSinceSent(kind: ResourceKind, st: TypeState, view: DigestMap): NamedResource[] {
    const out: NamedResource[] = [];
    for (const n of st.unsent === 'all' ? view.keys() : st.unsent) {
      const hash = view.get(n);
      if (hash !== undefined && hash !== st.sent?.get(n)) out.push(this.current(kind, n)!);
    }
    return out;
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

/** After a response was sent: what was sent is the view (only the names changed since the last response are written). */
function recordSent(st: TypeState, view: DigestMap): void {
  if (st.unsent === 'all' || !st.sent) {
    st.sent = new Map(view.entries());
    st.unacked = 'all';
  } else {
    for (const n of st.unsent) {
      const hash = view.get(n);
      if (hash === undefined) st.sent.delete(n);
      else st.sent.set(n, hash);
      if (st.unacked !== 'all') st.unacked.add(n);
    }
  }
  st.unsent = new Set();
}

/** The latest response was accepted: what was accepted is what was sent (only the names changed since the last ACK are written). */
function acknowledge(st: TypeState): void {
  if (!st.sent) return;
  if (st.unacked === 'all' || !st.acked) {
    st.acked = new Map(st.sent);
  } else {
    for (const n of st.unacked) {
      const hash = st.sent.get(n);
      if (hash === undefined) st.acked.delete(n);
      else st.acked.set(n, hash);
    }
  }
  st.unacked = new Set();
}

/** Characters that can continue a resource name: an occurrence next to one is part of a longer name. */
const NAME_CHAR = /[\w.|:/*@-]/;

/** Whether Envoy's error message names `name` as a whole (not `c1` inside `c10` or `a` inside `bad`). */
export function mentionsName(message: string, name: string): boolean {
  if (name === '') return false;
  for (let i = message.indexOf(name); i >= 0; i = message.indexOf(name, i + 1)) {
    const before = i > 0 ? message[i - 1] : '';
    const end = i + name.length;
    // Punctuation ending a sentence or introducing the error ("c1: bad", "… c1.") ends the name too.
    const after = /^[.:,;](\s|$)/.test(message.slice(end, end + 2)) ? '' : (message[end] ?? '');
    if (!NAME_CHAR.test(before) && !NAME_CHAR.test(after)) return true;
  }
  return false;
}

/** The resources a NACK rejects: those of the response that its message names, else those changed since the last accepted version. */
function nackedNames(st: TypeState, message: string): string[] {
  const inResponse = [...(st.sent?.keys() ?? [])];
  const named = inResponse.filter((n) => mentionsName(message, n));
  if (named.length) return named;
  const maybe = st.unacked === 'all' ? undefined : st.unacked;
  return inResponse.filter((n) => (!maybe || maybe.has(n)) && st.sent?.get(n) !== st.acked?.get(n));
}

function sameAsRequested(names: Set<string> | 'wildcard', requested: readonly string[]): names is Set<string> {
  if (names === 'wildcard' || names.size > requested.length) return false;
  for (const n of requested) if (!names.has(n)) return false;
  // Every requested name is known; with no more names than requested, equal unless one repeats.
  return names.size === requested.length || names.size === new Set(requested).size;
}

function sameNames(a: Set<string> | 'wildcard', b: Set<string> | 'wildcard'): boolean {
  if (a === 'wildcard' || b === 'wildcard') return a === b;
  if (a.size !== b.size) return false;
  for (const n of a) if (!b.has(n)) return false;
  return true;
}
