/**
 * One Delta ADS stream: per type URL, the names the proxy subscribed to (or a wildcard), the
 * version of every resource the proxy has (a content hash per resource), and the responses in
 * flight. A push sends only resources whose version changed and names the ones that disappeared
 * in removed_resources. A NACK is recorded for the resources of the rejected response; those
 * versions are never sent again, only new content is.
 */
import { TYPE_URLS, type ResourceKind } from '../translator/types.js';
import { hashOf } from '../translator/interning.js';
import { KIND_BY_TYPE_URL, ResourceHolder, type Changed, type NackRecord, type ProxySyncStatus, type XdsStream } from './connection.js';
import { DigestMap } from './digest.js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DeltaResource } from './service.js';

/** Kinds whose first request with no names is a (legacy) wildcard subscription. */
const WILDCARD_KINDS = new Set<ResourceKind>(['clusters', 'listeners']);

/** Most responses a stream may have unacknowledged before older ones are forgotten. */
const MAX_IN_FLIGHT = 64;

interface InFlight {
  updated: Map<string, string>;
  removed: string[];
}

export interface DeltaTypeState {
  wildcard: boolean;
  names: Set<string>;
  /** name → version the proxy has or was last sent (what the next diff is against). */
  sent: DigestMap;
  /** name → version the proxy acknowledged. */
  acked: DigestMap;
  /** Names changed (in the proxy's resources or the subscription) since the last diff; 'all': diff everything. */
  dirty: Changed;
  inFlight: Map<string, InFlight>;
  /**
   * `name@version` the proxy rejected, and why: never sent again, and counted as rejected again
   * whenever that version is what the proxy should have.
   */
  rejected: Map<string, NackRecord>;
  /** Resources whose latest version sent was rejected, with the reason. */
  nacked: Map<string, NackRecord>;
  lastNonce?: string;
  lastNack?: NackRecord;
}

export class DeltaConnection extends ResourceHolder<DeltaDiscoveryResponse, DeltaTypeState> implements XdsStream {
  /** Handles one DeltaDiscoveryRequest: an ACK/NACK, a subscription change, or both. */
  onRequest(req: DeltaDiscoveryRequest): void {
    const kind = KIND_BY_TYPE_URL.get(req.typeUrl ?? '');
    if (!kind) {
      this.logger.warn({ proxy: this.proxy?.id, typeUrl: req.typeUrl }, 'delta request for an unsupported type; ignored');
      return;
    }
    const subscribe = req.resourceNamesSubscribe ?? [];
    const unsubscribe = req.resourceNamesUnsubscribe ?? [];
    let st = this.types.get(kind);
    const first = !st;
    if (!st) {
      st = {
        wildcard: WILDCARD_KINDS.has(kind) && subscribe.length === 0, names: new Set(), sent: new DigestMap(), acked: new DigestMap(),
        inFlight: new Map(), rejected: new Map(), nacked: new Map(), dirty: 'all',
      };
      this.types.set(kind, st);
      // What the proxy already has (reconnect): not resent while the version matches.
      for (const [name, version] of Object.entries(req.initialResourceVersions ?? {})) {
        st.sent.set(name, version);
        st.acked.set(name, version);
      }
    }
    const nonce = req.responseNonce ?? '';
    if (nonce !== '') this.onAck(kind, st, nonce, req.errorDetail);
    let changed = false;
    const touched = (n: string) => {
      changed = true;
      if (st.dirty !== 'all') st.dirty.add(n);
    };
    for (const n of subscribe) {
      if (n === '*') { if (!st.wildcard) { changed = true; st.dirty = 'all'; } st.wildcard = true; } else if (!st.names.has(n)) { st.names.add(n); touched(n); }
    }
    let dropped: Iterable<string> = [];
    for (const n of unsubscribe) {
      if (n === '*') { if (st.wildcard) changed = true; st.wildcard = false; dropped = [...st.sent.keys()]; } else if (st.names.delete(n)) changed = true;
    }
    // What the proxy dropped is forgotten: a later subscription sends it again.
    for (const n of unsubscribe.includes('*') ? dropped : unsubscribe) {
      if (!this.wanted(st, n)) { st.sent.delete(n); st.acked.delete(n); st.nacked.delete(n); }
    }
    if (first || changed) this.respond(kind, st, first);
  }

  private onAck(kind: ResourceKind, st: DeltaTypeState, nonce: string, errorDetail: DeltaDiscoveryRequest['errorDetail']): void {
    const flight = st.inFlight.get(nonce);
    if (!flight) {
      this.logger.debug({ proxy: this.proxy?.id, kind, nonce }, 'delta ACK/NACK for an unknown nonce; ignored');
      return;
    }
    st.inFlight.delete(nonce);
    if (errorDetail && (errorDetail.message || errorDetail.code)) {
      const message = errorDetail.message ?? `code ${errorDetail.code}`;
      const at = new Date().toISOString();
      const names = [...flight.updated.keys()];
      st.lastNack = { version: hashOf([...flight.updated]), nonce, message, at };
      for (const [name, version] of flight.updated) {
        const record = { version, nonce, message, at };
        st.rejected.set(`${name}@${version}`, record);
        st.nacked.set(name, record);
      }
      this.metrics.nacks.inc({ type: kind });
      this.logger.warn({ proxy: this.proxy?.id, kind, names: names.slice(0, 20), error: message }, 'proxy rejected configuration (delta NACK); keeping last accepted versions');
      return;
    }
    for (const [name, version] of flight.updated) {
      st.acked.set(name, version);
      if (st.nacked.get(name)?.version !== version) st.nacked.delete(name);
    }
    for (const name of flight.removed) { st.acked.delete(name); st.nacked.delete(name); }
  }

  private wanted(st: DeltaTypeState, name: string): boolean {
    return st.wildcard || st.names.has(name);
  }

  /** Sends what changed for one type; `always` sends even an empty response (a first request must be answered). */
  protected respond(kind: ResourceKind, st: DeltaTypeState, always: boolean): boolean {
    if (!this.hasResources()) return false;
    const index = this.indexOf(kind);
    const updates: DeltaResource[] = [];
    const updated = new Map<string, string>();
    const removed: string[] = [];
    const diff = (name: string) => {
      if (!this.wanted(st, name)) return;
      const r = index.get(name);
      if (!r) {
        if (st.sent.has(name)) removed.push(name);
        return;
      }
      const version = this.resourceVersion(kind, name);
      if (st.sent.get(name) === version || st.rejected.has(`${name}@${version}`)) {
        if (st.rejected.size) this.noteRejection(st, name, version);
        return;
      }
      updates.push({ name, version, resource: this.cache.get(kind, r, version) });
      updated.set(name, version);
    };
    try {
      if (st.dirty !== 'all') {
        for (const n of st.dirty) diff(n);
        // Unchanged resources a request may have changed the rejection state of: looked at as a
        // full pass would (a few: only those rejected at some time).
        if (st.rejected.size) for (const n of this.rejectionCandidates(st)) if (!st.dirty.has(n)) diff(n);
      } else {
        for (const n of index.keys()) diff(n);
        for (const n of st.sent.keys()) if (!index.has(n)) diff(n);
      }
    } catch (err) {
      this.logger.error({ err, proxy: this.proxy?.id, kind }, 'could not encode resources; keeping the previous version');
      return false;
    }
    st.dirty = new Set();
    if (updates.length === 0 && removed.length === 0 && !always) return false;
    const nonce = `${this.streamId}-${++this.nonceCounter}`;
    for (const [n, v] of updated) st.sent.set(n, v);
    for (const n of removed) st.sent.delete(n);
    st.inFlight.set(nonce, { updated, removed });
    if (st.inFlight.size > MAX_IN_FLIGHT) st.inFlight.delete(st.inFlight.keys().next().value as string);
    st.lastNonce = nonce;
    this.send({ systemVersionInfo: st.sent.version(), resources: updates, typeUrl: TYPE_URLS[kind], removedResources: removed, nonce });
    this.metrics.pushes.inc({ type: kind });
    this.logger.debug({ proxy: this.proxy?.id, kind, nonce, updated: updates.length, removed: removed.length }, 'sent (delta)');
    return true;
  }

  /** Names that are, or once were, rejected. */
  private rejectionCandidates(st: DeltaTypeState): Set<string> {
    const names = new Set(st.nacked.keys());
    for (const key of st.rejected.keys()) names.add(key.slice(0, key.lastIndexOf('@')));
    return names;
  }

  /**
   * A resource not sent: if the proxy rejected this version before, it is rejecting it still; if it
   * has accepted this version, it rejects nothing of it (e.g. a rejected change undone).
   */
  private noteRejection(st: DeltaTypeState, name: string, version: string): void {
    const before = st.nacked.get(name);
    const again = st.rejected.get(`${name}@${version}`);
    if (again && before !== again && st.sent.get(name) !== version) st.nacked.set(name, again);
    else if (before && !again && st.acked.get(name) === version) st.nacked.delete(name);
    else return;
    this.onNackChange?.();
  }

  status(): ProxySyncStatus {
    const types: ProxySyncStatus['types'] = {};
    for (const [kind, st] of this.types) {
      const nacked = [...st.nacked].map(([name, n]) => ({ name, ...n }));
      types[kind] = {
        subscribed: st.wildcard ? '*' : [...st.names].sort(),
        versionSent: st.sent.version(),
        nonceSent: st.lastNonce,
        // Every sent version acknowledged → the same version as sent.
        versionAcked: st.inFlight.size === 0 && st.nacked.size === 0 ? st.sent.version() : st.acked.version(),
        lastNack: st.lastNack,
        ...(nacked.length ? { nackedResources: nacked } : {}),
      };
    }
    return { id: this.proxy?.id ?? `stream-${this.streamId}`, connectedAt: this.connectedAt, protocol: 'delta', types };
  }
}
