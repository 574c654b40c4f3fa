/**
 * The file source: a folder of YAML/JSON, read recursively and watched (chokidar). Each file
 * contributes a set of objects; a change to a file is diffed against what it contributed before
 * (add/update/delete), a deleted file takes its objects along. Invalid objects are reported (warn
 * log with file, object and field path + meshpilot_invalid_objects_total) and their last valid
 * version stays in use; a file that does not parse changes nothing.
 *
 * The same object (kind/namespace/name) defined in several files: the file whose path sorts last
 * wins, whatever order the files were read in, and a warning names the files.
 */
import { readFile } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Metrics } from '../../admin/metrics.js';
import { resourceRef, validateResource, type Resource } from '../../api/index.js';
import type { Logger } from '../../log.js';
import { nextEvent } from '../../registry/next-event.js';
import { objectKey, type Registry, type RegistryEvent } from '../../registry/store.js';
import { isConfigFile, listConfigFiles, parseDocuments } from '../documents.js';

/** Kinds the registry consumes; other kinds in the folder are ignored (debug log). */
export const CONSUMED_KINDS: ReadonlySet<string> = new Set(['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'Sidecar', 'Service', 'EndpointSlice', 'Endpoints', 'Pod', 'Namespace', 'Secret']);

const CLUSTER_SCOPED = new Set(['Namespace']);

export interface FileSourceOptions {
  dir: string;
  registry: Registry;
  logger: Logger;
  metrics: Metrics;
  /** Watch the folder after the initial load (default true). */
  watch?: boolean;
  /**
   * Batching window for bursts of file events (default 20 ms, as the Kubernetes source): short,
   * because pushes are debounced again downstream; every millisecond here delays every push.
   */
  settleMs?: number;
}

/** What one batch of file events did. */
export interface FileSync {
  /** Files re-read, relative to the folder, sorted. */
  files: string[];
  /** Whether the registry changed. */
  changed: boolean;
  /** Registry version after the batch. */
  version: number;
}

export class FileSource {
  /** file → (object key → object) it contributes (valid objects, or the last valid version). */
  private readonly byFile = new Map<string, Map<string, Resource>>();
  /** object key → files that define it. */
  private readonly filesByKey = new Map<string, Set<string>>();
  /** object key → what this source last applied to the registry. */
  private readonly applied = new Map<string, Resource>();
  private watcher?: FSWatcher;
  private readonly dirty = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly syncListeners = new Set<(s: FileSync) => void>();

  constructor(private readonly opts: FileSourceOptions) {}

  /** Initial full load; resolves once the registry holds the folder's valid objects (and the watcher is ready). */
  async start(): Promise<void> {
    if (this.opts.watch ?? true) {
      // Watch first, so a change made during the initial load is not lost (it is re-read after).
      this.watcher = watch(this.opts.dir, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 30, pollInterval: 10 } });
      const mark = (p: string) => { if (isConfigFile(p)) this.markDirty([p]); };
      this.watcher.on('add', mark).on('change', mark).on('unlink', mark);
      this.watcher.on('unlinkDir', (d: string) => this.markDirty([...this.byFile.keys()].filter((f) => f.startsWith(d + sep))));
      this.watcher.on('error', (err) => this.opts.logger.error({ err: String(err) }, 'file watcher error'));
      await new Promise<void>((r) => this.watcher!.once('ready', () => r()));
    }
    const load = this.running.then(async () => {
      const files = await listConfigFiles([this.opts.dir]);
      const changed = await this.reloadFiles(files);
      this.opts.logger.info({ dir: this.opts.dir, files: files.length, objects: this.applied.size, version: this.opts.registry.version, changed }, 'file source synced');
    });
    this.running = load.catch(() => undefined);
    await load;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.close();
    await this.running;
  }

  /** Subscribes to processed batches of file events; returns the unsubscribe function. */
  onSync(listener: (s: FileSync) => void): () => void {
    this.syncListeners.add(listener);
    return () => this.syncListeners.delete(listener);
  }

  /** Resolves after the next batch of file events has been processed (changed or not). */
  nextSync(timeoutMs = 10_000): Promise<FileSync> {
    return nextEvent((l) => this.onSync(l), timeoutMs, () => `no file change processed within ${timeoutMs} ms`);
  }

  /** Resolves when no file event is pending or being processed. */
  async whenIdle(): Promise<void> {
    for (let i = 0; i < 1000 && (this.timer || this.dirty.size > 0); i++) await this.nextSync();
    await this.running;
  }

  /** Object key → file it is currently taken from (for the debug view). */
  origins(): Map<string, string> {
    const out = new Map<string, string>();
    for (const k of [...this.applied.keys()].sort()) {
      const f = this.winner(k)?.file;
      if (f) out.set(k, relative(this.opts.dir, f));
    }
    return out;
  }

  private markDirty(files: readonly string[]): void {
    if (this.stopped || files.length === 0) return;
    for (const f of files) this.dirty.add(f);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const batch = [...this.dirty].sort();
      this.dirty.clear();
      this.running = this.running.then(async () => {
        if (this.stopped) return;
        const changed = await this.reloadFiles(batch);
        const sync: FileSync = { files: batch.map((f) => relative(this.opts.dir, f)), changed, version: this.opts.registry.version };
        if (changed) this.opts.logger.info({ files: sync.files, version: sync.version }, 'config changed');
        for (const l of [...this.syncListeners]) l(sync);
      }).catch((err: unknown) => this.opts.logger.error({ err }, 'applying file changes failed'));
    }, this.opts.settleMs ?? 20);
  }

  /** Re-reads files and applies the difference to the registry as one change. */
  private async reloadFiles(files: readonly string[]): Promise<boolean> {
    const touched = new Set<string>();
    for (const f of files) for (const k of await this.reload(f)) touched.add(k);
    const events: RegistryEvent[] = [];
    for (const k of [...touched].sort()) {
      const w = this.winner(k);
      const current = this.applied.get(k);
      if (!w) {
        if (current) {
          events.push({ type: 'delete', object: current });
          this.applied.delete(k);
        }
      } else if (w.object !== current) {
        events.push({ type: current ? 'update' : 'add', object: w.object });
        this.applied.set(k, w.object);
      }
    }
    return this.opts.registry.applyAll(events);
  }

  /** The definition in effect: from the file whose path sorts last. */
  private winner(key: string): { file: string; object: Resource } | undefined {
    let file: string | undefined;
    for (const f of this.filesByKey.get(key) ?? []) if (file === undefined || f > file) file = f;
    const object = file === undefined ? undefined : this.byFile.get(file)?.get(key);
    return file !== undefined && object ? { file, object } : undefined;
  }

  /** Records what a file now contributes (undefined: nothing) and warns about new duplicate definitions. */
  private setContribution(file: string, before: ReadonlyMap<string, Resource>, after: Map<string, Resource> | undefined): void {
    if (after) this.byFile.set(file, after);
    else this.byFile.delete(file);
    for (const k of before.keys()) {
      if (after?.has(k)) continue;
      const files = this.filesByKey.get(k);
      files?.delete(file);
      if (files?.size === 0) this.filesByKey.delete(k);
    }
    for (const k of after?.keys() ?? []) {
      let files = this.filesByKey.get(k);
      if (!files) this.filesByKey.set(k, (files = new Set()));
      files.add(file);
      if (files.size > 1 && !before.has(k)) {
        const all = [...files].sort().map((f) => relative(this.opts.dir, f));
        this.opts.logger.warn({ object: k, files: all, winner: all[all.length - 1] }, 'object defined in several files: the file that sorts last wins');
      }
    }
  }

  /** Re-reads one file, updates what it contributes, and returns the object keys it had or has. */
  private async reload(file: string): Promise<string[]> {
    const before = this.byFile.get(file) ?? new Map<string, Resource>();
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      // Gone: everything it contributed goes.
      this.setContribution(file, before, undefined);
      return [...before.keys()];
    }
    const { documents, errors } = parseDocuments(text, file);
    if (errors.length > 0) {
      for (const e of errors) this.opts.logger.warn({ file, document: e.index === undefined ? undefined : e.index + 1, line: e.line }, `file not applied, its previous objects stay: ${e.message}`);
      this.opts.metrics.invalidObjects.inc({ kind: 'File', source: 'file' });
      return [];
    }
    const after = new Map<string, Resource>();
    for (const doc of documents) {
      const raw = doc.object as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
      if (typeof raw.kind === 'string' && !CONSUMED_KINDS.has(raw.kind)) {
        this.opts.logger.debug({ file, document: doc.index + 1, kind: raw.kind }, 'kind ignored');
        continue;
      }
      const r = validateResource(doc.object);
      if (!r.ok) {
        const kind = typeof raw.kind === 'string' ? raw.kind : 'unknown';
        const name = typeof raw.metadata?.name === 'string' ? raw.metadata.name : undefined;
        const namespace = typeof raw.metadata?.namespace === 'string' && raw.metadata.namespace ? raw.metadata.namespace : (CLUSTER_SCOPED.has(kind) ? undefined : 'default');
        const ref = resourceRef({ kind, metadata: { name, namespace } });
        for (const issue of r.errors) this.opts.logger.warn({ file, document: doc.index + 1, line: doc.line, object: ref, path: issue.path }, `invalid object ignored, its last valid version stays: ${issue.message}`);
        this.opts.metrics.invalidObjects.inc({ kind, source: 'file' });
        // Keep the version this file last contributed, if any.
        if (name !== undefined) {
          const k = objectKey({ kind, metadata: { name, namespace } });
          const prev = before.get(k);
          if (prev) after.set(k, prev);
        }
        continue;
      }
      for (const w of r.warnings) this.opts.logger.info({ file, document: doc.index + 1, object: resourceRef(r.value), path: w.path }, `warning: ${w.message}`);
      const k = objectKey(r.value);
      if (after.has(k)) this.opts.logger.warn({ file, object: resourceRef(r.value) }, 'object defined twice in one file: the later document wins');
      const prev = before.get(k);
      // Unchanged content keeps its identity, so nothing is re-applied.
      after.set(k, prev && JSON.stringify(prev) === JSON.stringify(r.value) ? prev : r.value);
    }
    this.setContribution(file, before, after);
    return [...new Set([...before.keys(), ...after.keys()])];
  }
}
