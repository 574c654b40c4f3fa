/**
 * Reading config files: multi-document YAML (JSON is YAML too) into plain objects, and finding the
 * config files under the paths a user gives. No validation happens here beyond "is it an object".
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { type Document, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { compareStrings } from '../registry/ordering.js';

export interface SourceDocument {
  file: string;
  /** 0-based index of the document in its file (items of a `kind: List` share their document's index). */
  index: number;
  /** 1-based line where the document (or the List item) starts. */
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
/** Bounds alias expansion ("billion laughs"): more aliases than this in one document is an error. */
const MAX_ALIAS_COUNT = 100;

/** True for the extensions config folders are scanned for: .yaml, .yml, .json. */
export function isConfigFile(path: string): boolean {
  return CONFIG_EXTENSIONS.has(extname(path).toLowerCase());
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return `a ${typeof v}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Splits a file's text into documents. YAML syntax errors are reported with their line and the
 * broken document is skipped (the others still load); empty documents are skipped; the items of a
 * `kind: List` become documents of their own; anything that is not a mapping is an error.
 */
export function parseDocuments(text: string, file: string): { documents: SourceDocument[]; errors: DocumentError[] } {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const documents: SourceDocument[] = [];
  const errors: DocumentError[] = [];
  // parseAllDocuments returns an EmptyStream (an array too) for empty input.
  const list: Document.Parsed[] = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, index) => {
    const start = doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0;
    const line = lineCounter.linePos(start).line;
    if (doc.errors.length > 0) {
      // Only the first error: the ones after it are usually its echoes.
      const e = doc.errors[0];
      const l = e.linePos?.[0]?.line ?? line;
      const what = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      const context = l !== line ? ` (in the document starting at line ${line})` : '';
      errors.push({ file, index, line: l, message: `YAML syntax error at line ${l}: ${what}${context}` });
      return;
    }
    let object: unknown;
    try {
      object = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      errors.push({ file, index, line, message: `document ${index + 1} (line ${line}): ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    if (object === null || object === undefined) return;
    if (!isPlainObject(object)) {
      errors.push({ file, index, line, message: `document ${index + 1} (line ${line}) is ${describeValue(object)}, expected an object with apiVersion and kind` });
      return;
    }
    if (object.kind !== 'List') {
      documents.push({ file, index, line, object });
      return;
    }
    if (object.items === undefined || object.items === null) return;
    if (!Array.isArray(object.items)) {
      errors.push({ file, index, line, message: `document ${index + 1} (line ${line}): a List needs "items" to be a list, got ${describeValue(object.items)}` });
      return;
    }
    const itemNodes = doc.getIn(['items'], true);
    object.items.forEach((item: unknown, i: number) => {
      const node = isSeq(itemNodes) ? itemNodes.items[i] : undefined;
      const range = node && typeof node === 'object' && 'range' in node ? (node.range as [number, number, number] | undefined) : undefined;
      const itemLine = range ? lineCounter.linePos(range[0]).line : line;
      if (!isPlainObject(item)) {
        errors.push({ file, index, line: itemLine, message: `document ${index + 1} (line ${line}): items[${i}] is ${describeValue(item)}, expected an object` });
        return;
      }
      documents.push({ file, index, line: itemLine, object: item });
    });
  });
  return { documents, errors };
}

/** Collects config files under dir, sorted, skipping dot entries; symlinks are followed once. */
async function walk(dir: string, out: string[], seen: Set<string>): Promise<void> {
  const real = await realpath(dir);
  if (seen.has(real)) return; // a symlink loop or a folder reached twice
  seen.add(real);
  const entries = await readdir(dir, { withFileTypes: true });
  // Code-unit order (not localeCompare): the same on every machine and locale.
  for (const e of entries.sort((a, b) => compareStrings(a.name, b.name))) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      // Kubernetes ConfigMap volumes are symlinks into a hidden ..data folder.
      const st = await stat(p).catch(() => undefined);
      isDir = st?.isDirectory() ?? false;
      isFile = st?.isFile() ?? false;
    }
    if (isDir) await walk(p, out, seen);
    else if (isFile && isConfigFile(e.name)) out.push(p);
  }
}

/**
 * The config files named by paths: a file is taken as given (any extension), a folder is walked
 * recursively for *.yaml, *.yml and *.json (sorted, dot entries skipped). Duplicates are dropped,
 * first occurrence wins. Throws an Error naming the path when one does not exist.
 */
export async function listConfigFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch {
      throw new Error(`${p}: no such file or directory`);
    }
    if (st.isDirectory()) await walk(p, out, seen);
    else out.push(p);
  }
  return [...new Set(out)];
}
