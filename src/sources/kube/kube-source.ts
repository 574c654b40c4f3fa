/**
 * The Kubernetes source: list + watch (informers; a 410 Gone relists) for the five Istio kinds
 * and Services, EndpointSlices, Pods, Namespaces and Secrets. Valid objects become registry
 * events; invalid ones are reported (log, metric, and status when this replica leads) and the
 * last valid version stays in use. A watch that fails is restarted with backoff while the
 * registry keeps serving what it has.
 */
import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Metrics } from '../../admin/metrics.js';
import { ISTIO_KINDS, resourceRef, validateResource, type IstioKind, type Resource, type ValidationIssue } from '../../api/index.js';
import type { Logger } from '../../log.js';
import type { Registry, RegistryEvent } from '../../registry/store.js';
import type { KubeRest } from './rest.js';

export interface WatchedKind {
  kind: string;
  apiVersion: string;
  /** Collection path for all namespaces, e.g. /api/v1/services */
  path: string;
  istio: boolean;
  plural: string;
}

export const WATCHED_KINDS: WatchedKind[] = [
  ...(Object.keys(ISTIO_KINDS) as IstioKind[]).map((k) => ({ kind: k, apiVersion: 'networking.istio.io/v1', path: `/apis/networking.istio.io/v1/${ISTIO_KINDS[k].plural}`, istio: true, plural: ISTIO_KINDS[k].plural })),
  { kind: 'Service', apiVersion: 'v1', path: '/api/v1/services', istio: false, plural: 'services' },
  { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', path: '/apis/discovery.k8s.io/v1/endpointslices', istio: false, plural: 'endpointslices' },
  { kind: 'Pod', apiVersion: 'v1', path: '/api/v1/pods', istio: false, plural: 'pods' },
  { kind: 'Namespace', apiVersion: 'v1', path: '/api/v1/namespaces', istio: false, plural: 'namespaces' },
  { kind: 'Secret', apiVersion: 'v1', path: '/api/v1/secrets', istio: false, plural: 'secrets' },
];

export interface StatusReport {
  kind: WatchedKind;
  object: Record<string, unknown>;
  errors: ValidationIssue[];
}

export interface KubeSourceOptions {
  kubeConfig: KubeConfig;
  rest: KubeRest;
  registry: Registry;
  logger: Logger;
  metrics: Metrics;
  /** Called for every Istio object seen (valid: errors = []); the status writer decides what to do. */
  onIstioObject?: (report: StatusReport) => void;
  /** Batching window for watch events (default 20 ms). */
  settleMs?: number;
}

/** Drops what changes without changing meaning (resourceVersion, managedFields, status) so status writes do not cause pushes. */
export function normalize(kind: WatchedKind, raw: Record<string, unknown>): Record<string, unknown> {
  const meta = { ...((raw.metadata as Record<string, unknown>) ?? {}) };
  delete meta.managedFields;
  delete meta.resourceVersion;
  const out: Record<string, unknown> = { ...raw, apiVersion: kind.apiVersion, kind: kind.kind, metadata: meta };
  if (kind.istio) delete out.status;
  return out;
}

export class KubeSource {
  private informers: Array<{ kind: WatchedKind; informer: Informer<KubernetesObject> }> = [];
  private pending: RegistryEvent[] = [];
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private synced = false;
  private restartTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: KubeSourceOptions) {}

  async start(): Promise<void> {
    for (const kind of WATCHED_KINDS) {
      const informer = makeInformer<KubernetesObject>(this.opts.kubeConfig, kind.path, () => this.list(kind));
      informer.on('add', (o) => this.onObject(kind, o, 'add'));
      informer.on('update', (o) => this.onObject(kind, o, 'update'));
      informer.on('delete', (o) => this.onDelete(kind, o));
      informer.on('error', (err) => this.onError(kind, informer, err, 1));
      this.informers.push({ kind, informer });
    }
    await Promise.all(this.informers.map(({ informer }) => informer.start()));
    this.synced = true;
    this.flush();
    this.opts.logger.info({ objects: this.opts.registry.objects().length }, 'kubernetes source synced');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.restartTimers) clearTimeout(t);
    await Promise.all(this.informers.map(({ informer }) => informer.stop().catch(() => undefined)));
  }

  private async list(kind: WatchedKind): Promise<KubernetesListObject<KubernetesObject>> {
    const r = await this.opts.rest.request<KubernetesListObject<KubernetesObject>>('GET', kind.path);
    if (r.status !== 200) {
      const err = new Error(`list ${kind.path}: HTTP ${r.status}`) as Error & { statusCode: number };
      err.statusCode = r.status;
      throw err;
    }
    return r.body;
  }

  private onError(kind: WatchedKind, informer: Informer<KubernetesObject>, err: unknown, attempt: number): void {
    if (this.stopped) return;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
    this.opts.logger.warn({ kind: kind.kind, err: String(err), retryInMs: delay }, 'watch failed; serving the last known configuration and retrying');
    const t = setTimeout(() => {
      this.restartTimers.delete(t);
      if (this.stopped) return;
      informer.start().then(
        () => this.opts.logger.info({ kind: kind.kind }, 'watch re-established (relisted)'),
        (e: unknown) => this.onError(kind, informer, e, attempt + 1),
      );
    }, delay);
    this.restartTimers.add(t);
  }

  private onObject(kind: WatchedKind, raw: KubernetesObject, type: 'add' | 'update'): void {
    const obj = normalize(kind, raw as unknown as Record<string, unknown>);
    const r = validateResource(obj);
    if (!r.ok) {
      const ref = resourceRef({ kind: kind.kind, metadata: raw.metadata ?? {} });
      for (const issue of r.errors) this.opts.logger.warn({ object: ref, path: issue.path }, `invalid object ignored, last valid version kept: ${issue.message}`);
      this.opts.metrics.invalidObjects.inc({ kind: kind.kind, source: 'kubernetes' });
      if (kind.istio) this.opts.onIstioObject?.({ kind, object: raw as unknown as Record<string, unknown>, errors: r.errors.filter((e) => e.severity === 'error') });
      return;
    }
    if (kind.istio) this.opts.onIstioObject?.({ kind, object: raw as unknown as Record<string, unknown>, errors: [] });
    this.enqueue({ type, object: r.value as Resource });
  }

  private onDelete(kind: WatchedKind, raw: KubernetesObject): void {
    const meta = raw.metadata ?? {};
    const object = { kind: kind.kind, metadata: { name: meta.name ?? '', namespace: kind.kind === 'Namespace' ? (undefined as unknown as string) : (meta.namespace ?? 'default') } };
    this.enqueue({ type: 'delete', object: object as Pick<Resource, 'kind' | 'metadata'> });
  }

  private enqueue(ev: RegistryEvent): void {
    this.pending.push(ev);
    if (!this.synced) return; // the initial lists are applied together once every kind has synced
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.opts.settleMs ?? 20);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const events = this.pending;
    this.pending = [];
    if (events.length && this.opts.registry.applyAll(events)) this.opts.logger.info({ version: this.opts.registry.version, changes: events.length }, 'config changed (kubernetes)');
  }
}
