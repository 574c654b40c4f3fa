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

/** A full build plus the services rebuilt since (base's service object → its current version). */
export interface DerivedState {
  build: SnapshotBuild;
  replaced: ReadonlyMap<MeshService, MeshService>;
  /** The services this state rebuilt (the caller freezes them). */
  rebuilt?: readonly MeshService[];
}

/**
 * The state after rebuilding the given services ("namespace/name" → their objects), or undefined
 * when one of them is not a Kubernetes service of the base (a full build is needed).
 */
export function rebuildServices(state: DerivedState, changed: ReadonlyMap<string, KubeServiceObjects>): DerivedState | undefined {
  const replaced = new Map(state.replaced);
  const rebuilt: MeshService[] = [];
  const index = state.build.kubeByKey;
  const { domainSuffix } = state.build.snapshot.mesh;
  for (const [key, o] of changed) {
    const base = index.get(key);
    if (!base) return undefined;
    const slices = [...o.slices].sort(compareByNamespacedName);
    const service = serviceFromKubernetes(o.service, slices, o.legacy, state.build.podIndex, domainSuffix);
    replaced.set(base, service);
    rebuilt.push(service);
  }
  return { build: state.build, replaced, rebuilt };
}

/**
 * The snapshot of a derived state: the base's, with the rebuilt services in their places. Frozen
 * (its parts are the base's frozen parts and the rebuilt services, which the caller freezes); the services list
 * is made on first read, so a change costs nothing that grows with the mesh until someone lists
 * every service.
 */
export function derivedSnapshot(state: DerivedState, version: number): ConfigSnapshot {
  const base = state.build.snapshot;
  const replaced = state.replaced;
  const current = (s: MeshService | undefined) => (s && replaced.get(s)) ?? s;
  let services: readonly MeshService[] | undefined;
  const snapshot: ConfigSnapshot = Object.defineProperty({
    ...base,
    version,
    serviceByHost: (h: string) => current(base.serviceByHost(h)),
  }, 'services', {
    enumerable: true,
    get: () => (services ??= Object.freeze(base.services.map((s) => replaced.get(s) ?? s))),
  });
  return Object.freeze(snapshot);
}

