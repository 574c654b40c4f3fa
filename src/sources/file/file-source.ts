/**
 * The file source: a folder of YAML/JSON, read recursively and watched. Each file contributes a
 * set of objects; a change to a file is diffed against what it contributed before. Invalid
 * objects are reported (log + metric) and their last valid version stays in use; a file that does
 * not parse changes nothing.
 */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Metrics } from '../../admin/metrics.js';
import { resourceRef, validateResource, type Resource } from '../../api/index.js';
import type { Logger } from '../../log.js';
import { objectKey, type Registry, type RegistryEvent } from '../../registry/store.js';
import { isConfigFile, listConfigFiles, parseDocuments } from '../documents.js';

/** Kinds the registry consumes; other kinds in the folder are ignored. */
export const CONSUMED_KINDS = new Set(['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'Sidecar', 'Service', 'EndpointSlice', 'Endpoints', 'Pod', 'Namespace', 'Secret']);

export interface FileSourceOptions {
  dir: string;
  registry: Registry;
  logger: Logger;
  metrics: Metrics;
  watch?: boolean;
  /** Batching window for bursts of file events (default 50 ms). */
  settleMs?: number;
}

export class FileSource {
  /** file → (object key → object) it contributed. */
  private readonly byFile = new Map<string, Map<string, Resource>>();
  private watcher?: FSWatcher;
  private dirty = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly opts: FileSourceOptions) {}

  /** Initial full load; resolves once the registry holds the folder's valid objects. */
  async start(): Promise<void> {
    const files = await listConfigFiles([this.opts.dir]);
    const events: RegistryEvent[] = [];
    for (const f of files) events.push(...(await this.reload(f)));
    this.opts.registry.applyAll(events);
    this.opts.logger.info({ dir: this.opts.dir, files: files.length, objects: this.opts.registry.objects().length }, 'file source synced');
    if (this.opts.watch ?? true) {
      this.watcher = watch(this.opts.dir, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 30, pollInterval: 10 } });
      const mark = (p: string) => { if (isConfigFile(p)) { this.dirty.add(p); this.schedule(); } };
      this.watcher.on('add', mark).on('change', mark).on('unlink', mark);
      this.watcher.on('error', (err) => this.opts.logger.error({ err: String(err) }, 'file watcher error'));
      await new Promise<void>((r) => this.watcher!.once('ready', () => r()));
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.close();
    await this.running;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const files = [...this.dirty].sort();
      this.dirty.clear();
      this.running = this.running.then(async () => {
        const events: RegistryEvent[] = [];
        for (const f of files) events.push(...(await this.reload(f)));
        if (this.opts.registry.applyAll(events)) this.opts.logger.info({ files: files.map((f) => relative(this.opts.dir, f)), version: this.opts.registry.version }, 'config changed');
      }).catch((err: unknown) => this.opts.logger.error({ err }, 'applying file changes failed'));
    }, this.opts.settleMs ?? 50);
  }

  /** Re-reads one file and returns the registry events that bring the registry in line with it. */
  private async reload(file: string): Promise<RegistryEvent[]> {
    const before = this.byFile.get(file) ?? new Map<string, Resource>();
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      // Deleted: everything it contributed goes.
      this.byFile.delete(file);
      return [...before.values()].map((object) => ({ type: 'delete' as const, object }));
    }
    const { documents, errors } = parseDocuments(text, file);
    if (errors.length > 0) {
      for (const e of errors) this.opts.logger.warn({ file, line: e.line }, `file not applied: ${e.message}`);
      this.opts.metrics.invalidObjects.inc({ kind: 'File', source: 'file' });
      return [];
    }
    const after = new Map<string, Resource>();
    for (const doc of documents) {
      const raw = doc.object as { kind?: unknown };
      if (typeof raw.kind === 'string' && !CONSUMED_KINDS.has(raw.kind)) continue;
      const r = validateResource(doc.object);
      if (!r.ok) {
        const o = doc.object as { kind?: string; metadata?: { name?: string; namespace?: string } };
        const ref = resourceRef({ kind: String(o.kind ?? '?'), metadata: o.metadata ?? {} });
        for (const issue of r.errors) this.opts.logger.warn({ file, document: doc.index + 1, object: ref, path: issue.path }, `invalid object ignored, last valid version kept: ${issue.message}`);
        this.opts.metrics.invalidObjects.inc({ kind: String(o.kind ?? 'unknown'), source: 'file' });
        // Keep the previously valid version of this object, if the file had one.
        const ns = o.metadata?.namespace ?? 'default';
        const k = `${o.kind}/${ns}/${o.metadata?.name}`;
        const prev = before.get(k);
        if (prev) after.set(k, prev);
        continue;
      }
      for (const w of r.warnings) this.opts.logger.info({ file, object: resourceRef(r.value), path: w.path }, `warning: ${w.message}`);
      after.set(objectKey(r.value), r.value);
    }
    this.byFile.set(file, after);
    const events: RegistryEvent[] = [];
    for (const [k, o] of before) if (!after.has(k) && !this.definedElsewhere(k, file)) events.push({ type: 'delete', object: o });
    for (const [k, o] of after) if (before.get(k) !== o) events.push({ type: before.has(k) ? 'update' : 'add', object: o });
    return events;
  }

  private definedElsewhere(key: string, except: string): boolean {
    for (const [f, m] of this.byFile) if (f !== except && m.has(key)) return true;
    return false;
  }
}
