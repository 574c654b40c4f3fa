import { readFile } from 'node:fs/promises';
import { resourceRef, validateResource, type Resource } from '../api/index.js';
import { listConfigFiles, parseDocuments } from '../sources/documents.js';

export interface LoadedConfig {
  objects: Resource[];
  /** One line per problem: FILE:DOC ref: path: message */
  problems: string[];
}

/**
 * Reads a config folder once (no watching) for offline commands like `translate` and `bench`:
 * every valid object is kept, invalid ones are reported and skipped, as the file source does.
 */
export async function loadConfigDir(dirs: string[]): Promise<LoadedConfig> {
  const files = await listConfigFiles(dirs);
  const objects: Resource[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const { documents, errors } = parseDocuments(await readFile(file, 'utf8'), file);
    for (const e of errors) problems.push(`${file}${e.line ? `:${e.line}` : ''}: ${e.message}`);
    for (const doc of documents) {
      const r = validateResource(doc.object);
      if (r.ok) objects.push(r.value);
      else {
        const obj = doc.object as { kind?: string; metadata?: { name?: string; namespace?: string } };
        const ref = resourceRef({ kind: String(obj?.kind ?? '?'), metadata: obj?.metadata ?? {} });
        for (const issue of r.errors) problems.push(`${file}:${doc.index + 1} ${ref}: ${issue.path}: ${issue.message}`);
      }
    }
  }
  return { objects, problems };
}

/** Parses repeated `--label k=v` options. */
export function parseLabels(values: string[] | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const v of values ?? []) {
    const i = v.indexOf('=');
    if (i <= 0) throw new Error(`--label "${v}": expected key=value`);
    labels[v.slice(0, i)] = v.slice(i + 1);
  }
  return labels;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
