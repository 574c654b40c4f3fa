/**
 * The versioned in-memory store. Sources apply add/update/delete events of validated objects,
 * keyed kind/namespace/name; every effective change bumps a monotonic version and notifies the
 * listeners once. Stored objects are private deep-frozen copies; snapshot() freezes an immutable
 * indexed view, cached until the next change.
 */
import { nextEvent } from './next-event.js';
import type { Resource } from '../api/index.js';
import type { ConfigSnapshot } from './model.js';
import type { K8sEndpointSlice, K8sEndpoints, K8sService } from '../api/index.js';
import { derivedSnapshot, rebuildServices, Replacements, type DerivedState, type KubeServiceObjects } from './derived-snapshot.js';
import { buildSnapshot, type SnapshotOptions } from './snapshot.js';

export type RegistryEvent = { type: 'add' | 'update'; object: Resource } | { type: 'delete'; object: Pick<Resource, 'kind' | 'metadata'> };

export interface RegistryChange {
  /** The version after the change. */
  version: number;
  /** Kinds that changed, sorted. */
  kinds: string[];
  /** kind/namespace/name of every object added, updated or deleted, in event order. */
  keys: string[];
  /**
   * Present when the change touched only EndpointSlices / Endpoints of existing Services: what an
   * endpoint-only push needs (see EndpointChange).
   */
  endpoints?: EndpointChange;
}

/**
 * An endpoint-only change: the Services ("namespace/name") whose endpoints changed, and every
 * endpoint address in the old and new versions of the changed objects (a proxy whose own address is
 * among them may have to change listeners, not only endpoints).
 */
export interface EndpointChange {
  services: string[];
  addresses: string[];
}

const ENDPOINT_KINDS = new Set(['EndpointSlice', 'Endpoints']);

/** The Service an EndpointSlice / Endpoints object belongs to ("namespace/name"), if any. */
function endpointsOwner(o: Resource): string | undefined {
  const ns = o.metadata.namespace ?? '';
  if (o.kind === 'Endpoints') return `${ns}/${o.metadata.name}`;
  const svc = o.metadata.labels?.['kubernetes.io/service-name'];
  return svc ? `${ns}/${svc}` : undefined;
}

function endpointAddresses(o: Resource): string[] {
  const spec = o as unknown as { endpoints?: Array<{ addresses?: string[] }> | null; subsets?: Array<{ addresses?: Array<{ ip?: string }> | null; notReadyAddresses?: Array<{ ip?: string }> | null }> | null };
  if (o.kind === 'EndpointSlice') return (spec.endpoints ?? []).flatMap((e) => e.addresses ?? []);
  return (spec.subsets ?? []).flatMap((s) => [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])].flatMap((a) => (a.ip ? [a.ip] : [])));
}

/** "kind/namespace/name" ('' namespace for cluster-scoped kinds). */
export function objectKey(o: { kind: string; metadata: { namespace?: string; name: string } }): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** Freezes a value and everything reachable from it (stops at already frozen objects). */
export function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

/** Structural equality of JSON-shaped values (key order ignored). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const rb = b as Record<string, unknown>;
  const ra = a as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && sameJson(ra[k], rb[k]));
}

export class Registry {
  private readonly objectsByKey = new Map<string, Resource>();
  private currentVersion = 0;
  private cached?: ConfigSnapshot;
  /** The last full snapshot build and the services rebuilt since (endpoint-only changes). */
  private derived?: DerivedState;
  /** Services whose endpoints changed since the last snapshot; 'all' after any other change. */
  private dirty: Set<string> | 'all' = 'all';
  /** EndpointSlice keys by the Service they belong to ("namespace/name"). */
  private readonly slicesByService = new Map<string, Set<string>>();
  private readonly listeners = new Set<(change: RegistryChange) => void>();
  /** Per kind, the version at which objects of that kind last changed (snapshots carry it). */
  private readonly kindVersions: Record<string, number> = {};
  /** Per endpoint address, the version at which an EndpointSlice/Endpoints object listing it (before or after) last changed. */
  private readonly addressVersions = new Map<string, number>();
  /** Addresses are forgotten all at once past a bound: for versions before this, every address counts as changed. */
  private addressesForgottenAt = 0;
  /** What snapshots answer ConfigSnapshot.endpointsChangedSince with (reads the record as it is now: conservative). */
  private readonly endpointsChangedSince = (address: string, since: number): boolean =>
    since < this.addressesForgottenAt || (this.addressVersions.get(address) ?? 0) > since;

  constructor(private readonly snapshotOptions: Omit<SnapshotOptions, 'version'> = {}) {}

  get version(): number {
    return this.currentVersion;
  }

  /** Number of objects stored. */
  get size(): number {
    return this.objectsByKey.size;
  }

  /**
   * Applies a batch of events as one change (one version bump, one notification). Adding or
   * updating to identical content and deleting an absent object are no-ops. Returns whether
   * anything changed.
   */
  applyAll(events: readonly RegistryEvent[]): boolean {
    const keys: string[] = [];
    const kinds = new Set<string>();
    // Old and new versions of the changed endpoint objects; an endpoint-only change while nothing else changed.
    const endpointObjects: Resource[] = [];
    let endpointOnly = true;
    for (const ev of events) {
      const k = objectKey(ev.object);
      const prev = this.objectsByKey.get(k);
      if (ev.type === 'delete') {
        if (!this.objectsByKey.delete(k)) continue;
      } else {
        if (prev && (prev === ev.object || sameJson(prev, ev.object))) continue;
        this.objectsByKey.set(k, deepFreeze(structuredClone(ev.object)));
      }
      if (ev.object.kind === 'EndpointSlice') this.indexSlice(k, prev, this.objectsByKey.get(k));
      if (!keys.includes(k)) keys.push(k);
      kinds.add(ev.object.kind);
      if (!ENDPOINT_KINDS.has(ev.object.kind)) endpointOnly = false;
      else endpointObjects.push(...(prev ? [prev] : []), ...(ev.type === 'delete' ? [] : [this.objectsByKey.get(k)!]));
    }
    if (keys.length === 0) return false;
    this.currentVersion++;
    for (const k of kinds) this.kindVersions[k] = this.currentVersion;
    const addresses = new Set(endpointObjects.flatMap(endpointAddresses));
    if (this.addressVersions.size + addresses.size > 1_000_000) {
      this.addressVersions.clear();
      this.addressesForgottenAt = this.currentVersion;
    }
    for (const a of addresses) this.addressVersions.set(a, this.currentVersion);
    this.cached = undefined;
    const endpoints = endpointOnly ? this.endpointChange(endpointObjects, addresses) : undefined;
    if (endpoints && this.dirty !== 'all') for (const svc of endpoints.services) this.dirty.add(svc);
    else this.dirty = 'all';
    const change: RegistryChange = { version: this.currentVersion, kinds: [...kinds].sort(), keys, ...(endpoints ? { endpoints } : {}) };
    let failure: unknown;
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch (err) {
        failure ??= err;
      }
    }
    // Every listener ran; the first failure is surfaced to whoever applied the change.
    if (failure !== undefined) throw failure;
    return true;
  }

  /**
   * The endpoint-only description of a change (`addresses`: those the changed objects list), when
   * every changed object belongs to a Service that exists (so no service or namespace appears or
   * disappears); else undefined.
   */
  private endpointChange(objects: readonly Resource[], addresses: ReadonlySet<string>): EndpointChange | undefined {
    const services = new Set<string>();
    for (const o of objects) {
      const owner = endpointsOwner(o);
      if (owner === undefined) return undefined;
      const [ns, name] = owner.split('/');
      if (!this.objectsByKey.has(`Service/${ns}/${name}`)) return undefined;
      services.add(owner);
    }
    return { services: [...services].sort(), addresses: [...addresses].sort() };
  }

  apply(event: RegistryEvent): boolean {
    return this.applyAll([event]);
  }

  get(kind: string, namespace: string, name: string): Resource | undefined {
    return this.objectsByKey.get(`${kind}/${namespace}/${name}`);
  }

  /** All objects, sorted by kind/namespace/name (for /debug/configz). */
  objects(): Resource[] {
    return [...this.objectsByKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  }

  /**
   * The deep-frozen snapshot of the current version (the same object until the next change).
   * After endpoint-only changes it is derived from the last full build, rebuilding only the
   * services whose endpoints changed (equal to a full build; see derived-snapshot.ts).
   */
  snapshot(): ConfigSnapshot {
    if (this.cached) return this.cached;
    const dirty = this.dirty;
    this.dirty = new Set();
    const derived = dirty !== 'all' && this.derived ? this.derive(this.derived, dirty) : undefined;
    if (derived) {
      this.derived = derived;
      for (const s of derived.rebuilt ?? []) deepFreeze(s);
      this.cached = derivedSnapshot(derived, this.currentVersion, this.kindVersions, this.endpointsChangedSince);
    } else {
      const build = buildSnapshot(this.objects(), { ...this.snapshotOptions, version: this.currentVersion, kindVersions: this.kindVersions, endpointsChangedSince: this.endpointsChangedSince });
      deepFreeze(build.snapshot);
      this.derived = { build, replaced: Replacements.none };
      this.cached = build.snapshot;
    }
    return this.cached;
  }

  private derive(state: DerivedState, services: ReadonlySet<string>): DerivedState | undefined {
    const changed = new Map<string, KubeServiceObjects>();
    for (const key of services) {
      const [ns, name] = key.split('/');
      const service = this.get('Service', ns, name) as K8sService | undefined;
      if (!service) return undefined;
      const slices = [...(this.slicesByService.get(key) ?? [])].map((k) => this.objectsByKey.get(k) as K8sEndpointSlice);
      const legacy = this.get('Endpoints', ns, name) as K8sEndpoints | undefined;
      changed.set(key, { service, slices, ...(legacy ? { legacy } : {}) });
    }
    return rebuildServices(state, changed);
  }

  private indexSlice(key: string, prev: Resource | undefined, next: Resource | undefined): void {
    const before = prev && endpointsOwner(prev);
    const after = next && endpointsOwner(next);
    if (before === after) return;
    if (before !== undefined) {
      const set = this.slicesByService.get(before);
      set?.delete(key);
      if (set?.size === 0) this.slicesByService.delete(before);
    }
    if (after !== undefined) {
      let set = this.slicesByService.get(after);
      if (!set) this.slicesByService.set(after, (set = new Set()));
      set.add(key);
    }
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: (change: RegistryChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves on the next change (rejects after timeoutMs): lets tests await instead of sleeping. */
  nextChange(timeoutMs = 10_000): Promise<RegistryChange> {
    return nextEvent((l) => this.onChange(l), timeoutMs, () => `no registry change within ${timeoutMs} ms`);
  }

  /** Resolves once the version is at least `version` (at once when it already is). */
  whenVersion(version: number, timeoutMs = 10_000): Promise<number> {
    if (this.currentVersion >= version) return Promise.resolve(this.currentVersion);
    return nextEvent<RegistryChange>((l) => this.onChange(l), timeoutMs,
      () => `registry version ${version} not reached within ${timeoutMs} ms (at ${this.currentVersion})`,
      (c) => c.version >= version).then((c) => c.version);
  }
}
