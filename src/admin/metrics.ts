import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** All meshpilot metrics live on one registry so that tests can create isolated instances. */
export interface Metrics {
  registry: Registry;
  connectedProxies: Gauge;
  pushes: Counter<'type'>;
  pushLatency: Histogram;
  nacks: Counter<'type'>;
  invalidObjects: Counter<'kind' | 'source'>;
  configObjects: Gauge<'kind'>;
  refusedSecrets: Counter;
  /** (proxy, type) pairs whose latest response the proxy rejected, by type (read at scrape time). */
  nackedNow: Gauge<'type'>;
  /** Set by the xDS server: how many connected proxies have each type currently NACKed. */
  currentNacks?: () => Record<string, number>;
  /** Streams whose transport is backed up (pushes deferred until they drain), read at scrape time. */
  blockedStreams: Gauge;
  /** Responses waiting to be written on all streams (held back or buffered by gRPC), read at scrape time. */
  queuedResponses: Gauge;
  /** Set by the xDS server: the state of its send queues. */
  currentSendQueues?: () => { blockedStreams: number; queuedResponses: number };
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'meshpilot_' });
  const metrics: Metrics = {
    registry,
    connectedProxies: new Gauge({ name: 'meshpilot_xds_connected_proxies', help: 'Proxies with an open xDS stream', registers: [registry] }),
    pushes: new Counter({ name: 'meshpilot_xds_pushes_total', help: 'xDS responses sent, by resource type', labelNames: ['type'], registers: [registry] }),
    pushLatency: new Histogram({
      name: 'meshpilot_xds_push_seconds', help: 'Time from a config change to the push being written, per proxy',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
    }),
    nacks: new Counter({ name: 'meshpilot_xds_nacks_total', help: 'xDS responses rejected by a proxy, by resource type', labelNames: ['type'], registers: [registry] }),
    invalidObjects: new Counter({ name: 'meshpilot_invalid_objects_total', help: 'Objects rejected by validation', labelNames: ['kind', 'source'], registers: [registry] }),
    configObjects: new Gauge({ name: 'meshpilot_config_objects', help: 'Valid objects in the registry, by kind', labelNames: ['kind'], registers: [registry] }),
    refusedSecrets: new Counter({ name: 'meshpilot_xds_refused_secrets_total', help: 'Secret names a proxy asked for that are not its to read', registers: [registry] }),
    nackedNow: new Gauge({
      name: 'meshpilot_xds_nacked_proxies', help: 'Connected proxies whose latest response of a type was rejected (NACK), by type', labelNames: ['type'], registers: [registry],
      collect(this: Gauge<'type'>) {
        this.reset();
        for (const [type, n] of Object.entries(metrics.currentNacks?.() ?? {})) this.set({ type }, n);
      },
    }),
    blockedStreams: new Gauge({
      name: 'meshpilot_xds_send_queue_blocked_streams', help: 'xDS streams whose transport is backed up (the proxy is not reading); pushes to them wait until they drain', registers: [registry],
      collect(this: Gauge) { this.set(metrics.currentSendQueues?.().blockedStreams ?? 0); },
    }),
    queuedResponses: new Gauge({
      name: 'meshpilot_xds_send_queue_responses', help: 'xDS responses waiting to be written, over all streams (bounded per stream)', registers: [registry],
      collect(this: Gauge) { this.set(metrics.currentSendQueues?.().queuedResponses ?? 0); },
    }),
  };
  return metrics;
}
