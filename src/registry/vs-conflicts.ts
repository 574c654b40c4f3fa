/**
 * VirtualServices that claim the same host for sidecars (gateway "mesh"). Unlike gateways, Istio
 * does not merge them for sidecars: the first in its order (oldest, then name) builds the host's
 * HTTP routes and the others' are ignored. Said here so that it is never silent.
 */
import type { VirtualService } from '../api/index.js';
import { resolveShortName } from './hosts.js';

const ref = (vs: VirtualService) => `${vs.metadata.namespace}/${vs.metadata.name}`;

/** One note per (host, ignored VirtualService); `meshVirtualServices` in Istio's order. */
export function meshHostConflicts(meshVirtualServices: readonly VirtualService[], domainSuffix: string): string[] {
  const owner = new Map<string, VirtualService>();
  const notes: string[] = [];
  for (const vs of meshVirtualServices) {
    if (!vs.spec.http?.length) continue;
    for (const h of new Set((vs.spec.hosts ?? []).map((x) => resolveShortName(x, vs.metadata.namespace, domainSuffix)))) {
      const first = owner.get(h);
      if (!first) owner.set(h, vs);
      else notes.push(`host ${h}: VirtualServices ${ref(first)} and ${ref(vs)} both route it for sidecars (mesh); sidecars that see both use ${ref(first)} (older, or first by name) and ignore the http routes of ${ref(vs)}`);
    }
  }
  return notes;
}
