/**
 * What `meshpilot serve` gives the ADS server to generate a proxy's resources from the registry:
 * a full translation (sidecars with the same namespace and workload labels sharing their outbound
 * side; the translator's notes logged when they change for the proxy), and the
 * endpoint-only fast path (ClusterLoadAssignments of the changed services, shared between proxies
 * that need the same one).
 */
import type { Logger } from '../log.js';
import type { Registry } from '../registry/store.js';
import { indexEdsClusters, translateEndpointsFor, type LoadAssignmentMemo } from '../translator/endpoint-updates.js';
import { translate, TranslationMemo, withWorkloadLabels } from '../translator/index.js';
import type { XdsServerOptions } from '../xds/server.js';

export type ProxyGenerators = Pick<XdsServerOptions, 'generate' | 'generateEndpoints'>;

export function proxyGenerators(registry: Registry, logger: Logger): ProxyGenerators {
  // What the translator had to say about a proxy's configuration (merge conflicts, skipped
  // servers...), logged when it changes for that proxy.
  const lastNotes = new Map<string, string>();
  let claMemo: LoadAssignmentMemo = { version: -1, byKey: new Map() };
  // Across snapshots: shared outbound builds, and unchanged resources keeping their objects.
  const memo = new TranslationMemo();
  return {
    generate: (proxy) => {
      const snapshot = registry.snapshot();
      const result = translate(snapshot, proxy, memo);
      // Indexed now, with the full translation: a later endpoint change then costs only its services.
      indexEdsClusters(result.clusters);
      const notes = result.notes ?? [];
      const key = notes.join('\n');
      if ((lastNotes.get(proxy.id) ?? '') !== key) {
        if (lastNotes.size > 10_000) lastNotes.clear();
        lastNotes.set(proxy.id, key);
        for (const note of notes) logger.warn({ proxy: proxy.id, note }, `translation: ${note}`);
      }
      return result;
    },
    generateEndpoints: (proxy, clusters, change) => {
      const snapshot = registry.snapshot();
      // One memo per snapshot: proxies that need the same assignment share one (built, hashed and encoded once).
      if (claMemo.version !== snapshot.version) claMemo = { version: snapshot.version, byKey: new Map() };
      // With its pod's labels when it sent none, as a full translation sees it (DestinationRule workloadSelector, locality).
      return translateEndpointsFor(snapshot, withWorkloadLabels(snapshot, proxy), clusters, change, claMemo);
    },
  };
}
