/** Reading config files: multi-document YAML (JSON is YAML too), folders walked recursively. */
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';

export interface SourceDocument {
  file: string;
  /** 0-based index of the document in its file. */
  index: number;
  /** 1-based line where the document starts. */
  line: number;
  object: unknown;
}

export interface DocumentError {
  file: string;
  index?: number;
  line?: number;
  message: string;
}

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export function parseDocuments(text: string, file: string): { documents: SourceDocument[]; errors: DocumentError[] } {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true });
  const documents: SourceDocument[] = [];
  const errors: DocumentError[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, index) => {
    const start = doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0;
    const line = lineCounter.linePos(start).line;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const l = e.linePos?.[0]?.line ?? line;
        errors.push({ file, index, line: l, message: `YAML syntax error at line ${l}: ${e.message.split('\n')[0]}` });
      }
      return;
    }
    const object: unknown = doc.toJS({ maxAliasCount: 100 });
    if (object === null || object === undefined) return;
    if (typeof object !== 'object' || Array.isArray(object)) {
      errors.push({ file, index, line, message: `document ${index + 1} (line ${line}) is not an object` });
      return;
    }
    const o = object as { kind?: unknown; items?: unknown };
    if (o.kind === 'List' && Array.isArray(o.items)) {
      for (const item of o.items) documents.push({ file, index, line, object: item });
      return;
    }
    documents.push({ file, index, line, object });
  });
  return { documents, errors };
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile() && CONFIG_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
  }
}

/** Files as given; folders recursively (*.yaml, *.yml, *.json). Throws naming a missing path. */
export async function listConfigFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch {
      throw new Error(`${p}: no such file or directory`);
    }
    if (st.isDirectory()) await walk(p, out);
    else out.push(p);
  }
  return [...new Set(out)];
}

export function isConfigFile(path: string): boolean {
  return CONFIG_EXTENSIONS.has(extname(path).toLowerCase());
}
