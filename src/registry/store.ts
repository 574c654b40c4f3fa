/**
 * The versioned in-memory store. Sources apply add/update/delete events of validated objects;
 * every change bumps a monotonic version; snapshot() freezes an immutable indexed view, cached
 * until the next change.
 */
import type { Resource } from '../api/index.js';
import type { ConfigSnapshot } from './model.js';
import { snapshotFromObjects, type SnapshotOptions } from './snapshot.js';

export type RegistryEvent = { type: 'add' | 'update'; object: Resource } | { type: 'delete'; object: Pick<Resource, 'kind' | 'metadata'> };

export interface RegistryChange {
  version: number;
  kinds: string[];
  keys: string[];
}

export function objectKey(o: { kind: string; metadata: { namespace: string; name: string } }): string {
  return `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
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

  /** Applies a batch of events as one change (one version bump, one notification). Returns whether anything changed. */
  applyAll(events: readonly RegistryEvent[]): boolean {
    const keys: string[] = [];
    const kinds = new Set<string>();
    for (const ev of events) {
      const k = objectKey(ev.object);
      if (ev.type === 'delete') {
        if (!this.objectsByKey.delete(k)) continue;
      } else {
        const prev = this.objectsByKey.get(k);
        if (prev && JSON.stringify(prev) === JSON.stringify(ev.object)) continue;
        this.objectsByKey.set(k, deepFreeze(structuredClone(ev.object)));
      }
      keys.push(k);
      kinds.add(ev.object.kind);
    }
    if (keys.length === 0) return false;
    this.currentVersion++;
    this.cached = undefined;
    const change: RegistryChange = { version: this.currentVersion, kinds: [...kinds].sort(), keys };
    for (const l of this.listeners) l(change);
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
    return [...this.objectsByKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, o]) => o);
  }

  snapshot(): ConfigSnapshot {
    if (!this.cached) this.cached = snapshotFromObjects(this.objects(), { ...this.snapshotOptions, version: this.currentVersion });
    return this.cached;
  }

  onChange(listener: (change: RegistryChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves on the next change (bounded by timeoutMs): lets tests await instead of sleeping. */
  nextChange(timeoutMs = 10_000): Promise<RegistryChange> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`no registry change within ${timeoutMs} ms`)); }, timeoutMs);
      const off = this.onChange((c) => { clearTimeout(timer); off(); resolve(c); });
    });
  }
}
