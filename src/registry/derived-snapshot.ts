/**
 * Snapshots after endpoint-only changes, derived from the last full build instead of rebuilding
 * every index: only the Kubernetes services whose endpoints changed are rebuilt (with the same
 * function as a full build), every other part of the snapshot is shared with the base. The result
 * equals what a full build of the same objects gives (test/unit/registry/derived-snapshot.test.ts).
 *
 * Sound because an endpoint-only change (EndpointSlices / Endpoints of Services that exist) changes
 * no object but those services' endpoints: not which services exist, their hostnames, ports,
 * namespaces or exportTo, nor pods, namespaces or any Istio object.
 */
import type { K8sEndpointSlice, K8sEndpoints, K8sService } from '../api/index.js';
import type { ConfigSnapshot, MeshService } from './model.js';
import { compareByNamespacedName } from './ordering.js';
import { serviceFromKubernetes } from './services.js';
import type { SnapshotBuild } from './snapshot.js';

/** The objects a Kubernetes service is made of. */
export interface KubeServiceObjects {
  service: K8sService;
  slices: readonly K8sEndpointSlice[];
  legacy?: K8sEndpoints;
}

/**
 * The base's service objects → their current versions, extended without copying what older
 * snapshots share: the latest replacements in a small map (copied per change) over a flat map of
 * the older ones, merged into it once the small one holds RECENT_MAX services. A change then costs
 * at most RECENT_MAX entries, and a merge (one map copy, ~1 ms at 10,000 services) comes once per
 * RECENT_MAX services changed, instead of a full snapshot build.
 */
export class Replacements {
  static readonly none = new Replacements(new Map(), new Map());
  private static readonly RECENT_MAX = 128;

  private constructor(
    private readonly older: ReadonlyMap<MeshService, MeshService>,
    private readonly recent: ReadonlyMap<MeshService, MeshService>,
  ) {}

  get(base: MeshService): MeshService | undefined {
    return this.recent.get(base) ?? this.older.get(base);
  }

  /** These replacements plus `more` (later wins); this object is left as it is. */
  with(more: Iterable<readonly [MeshService, MeshService]>): Replacements {
    const recent = new Map(this.recent);
    for (const [base, current] of more) recent.set(base, current);
    if (recent.size <= Replacements.RECENT_MAX) return new Replacements(this.older, recent);
    const older = new Map(this.older);
    for (const [base, current] of recent) older.set(base, current);
    return new Replacements(older, new Map());
  }
}

/** A full build plus the services rebuilt since. */
export interface DerivedState {
  build: SnapshotBuild;
  replaced: Replacements;
  /** The services this state rebuilt (the caller freezes them). */
  rebuilt?: readonly MeshService[];
}

/**
 * The state after rebuilding the given services ("namespace/name" → their objects), or undefined
 * when one of them is not a Kubernetes service of the base (a full build is needed).
 */
export function rebuildServices(state: DerivedState, changed: ReadonlyMap<string, KubeServiceObjects>): DerivedState | undefined {
  const pairs: Array<[MeshService, MeshService]> = [];
  const index = state.build.kubeByKey;
  const { domainSuffix } = state.build.snapshot.mesh;
  for (const [key, o] of changed) {
    const base = index.get(key);
    if (!base) return undefined;
    const slices = [...o.slices].sort(compareByNamespacedName);
    const service = serviceFromKubernetes(o.service, slices, o.legacy, state.build.podIndex, domainSuffix);
    pairs.push([base, service]);
  }
  return { build: state.build, replaced: state.replaced.with(pairs), rebuilt: pairs.map(([, s]) => s) };
}

/**
 * The snapshot of a derived state: the base's, with the rebuilt services in their places. Frozen
 * (its parts are the base's frozen parts and the rebuilt services, which the caller freezes); the services list
 * is made on first read, so a change costs nothing that grows with the mesh until someone lists
 * every service.
 */
export function derivedSnapshot(
  state: DerivedState, version: number, kindVersions?: Readonly<Record<string, number>>, endpointsChangedSince?: ConfigSnapshot['endpointsChangedSince'],
): ConfigSnapshot {
  const base = state.build.snapshot;
  const replaced = state.replaced;
  const current = (s: MeshService | undefined) => (s && replaced.get(s)) ?? s;
  let services: readonly MeshService[] | undefined;
  const snapshot: ConfigSnapshot = Object.defineProperty({
    ...base,
    version,
    ...(kindVersions ? { kindVersions: Object.freeze({ ...kindVersions }) } : {}),
    ...(endpointsChangedSince ? { endpointsChangedSince } : {}),
    serviceByHost: (h: string) => current(base.serviceByHost(h)),
  }, 'services', {
    enumerable: true,
    get: () => (services ??= Object.freeze(base.services.map((s) => replaced.get(s) ?? s))),
  });
  return Object.freeze(snapshot);
}

