/**
 * The versioned in-memory store. Sources apply add/update/delete events of validated objects,
 * keyed kind/namespace/name; every effective change bumps a monotonic version and notifies the
 * listeners once. Stored objects are private deep-frozen copies; snapshot() freezes an immutable
 * indexed view, cached until the next change.
 */
import { nextEvent } from './next-event.js';
import type { Resource } from '../api/index.js';
import type { ConfigSnapshot } from './model.js';
import { snapshotFromObjects, type SnapshotOptions } from './snapshot.js';

export type RegistryEvent = { type: 'add' | 'update'; object: Resource } | { type: 'delete'; object: Pick<Resource, 'kind' | 'metadata'> };

export interface RegistryChange {
  /** The version after the change. */
  version: number;
  /** Kinds that changed, sorted. */
  kinds: string[];
  /** kind/namespace/name of every object added, updated or deleted, in event order. */
  keys: string[];
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
  private readonly listeners = new Set<(change: RegistryChange) => void>();

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
    for (const ev of events) {
      const k = objectKey(ev.object);
      if (ev.type === 'delete') {
        if (!this.objectsByKey.delete(k)) continue;
      } else {
        const prev = this.objectsByKey.get(k);
        if (prev && (prev === ev.object || sameJson(prev, ev.object))) continue;
        this.objectsByKey.set(k, deepFreeze(structuredClone(ev.object)));
      }
      if (!keys.includes(k)) keys.push(k);
      kinds.add(ev.object.kind);
    }
    if (keys.length === 0) return false;
    this.currentVersion++;
    this.cached = undefined;
    const change: RegistryChange = { version: this.currentVersion, kinds: [...kinds].sort(), keys };
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

  /** The deep-frozen snapshot of the current version (the same object until the next change). */
  snapshot(): ConfigSnapshot {
    if (!this.cached) this.cached = deepFreeze(snapshotFromObjects(this.objects(), { ...this.snapshotOptions, version: this.currentVersion }));
    return this.cached;
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
