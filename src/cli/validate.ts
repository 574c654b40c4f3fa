/**
 * `meshpilot validate -f PATH [-f PATH…] [-o text|json]` (PATH - reads standard input): checks config files offline with the same
 * validation the control plane applies. Exit 0 when every object is valid (warnings allowed), 1 when
 * any object is invalid, 2 on usage or I/O errors and on documents that are not YAML/JSON objects.
 *
 * Text output, one line per problem (DOC is the 1-based index of the YAML document in its file):
 *   FILE:DOC Kind namespace/name: field.path[1].x: message
 *   FILE:DOC Kind namespace/name: field.path: warning: message
 *   FILE:DOC: YAML syntax error at line L: message
 * then a summary line `validated N objects (I Istio) in M files: X invalid, W warnings`. Objects
 * of other kinds (Service, Deployment…) are only checked for well-formedness; the same object twice
 * in one file is a warning.
 * JSON output: an array of {file, document, line, kind, namespace, name, path, message, severity}
 * (line = 1-based line where the object starts); the summary goes to stderr.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { isIstioKind, validateResource } from '../api/index.js';
import { listConfigFiles, parseDocuments, type SourceDocument } from '../sources/documents.js';
import { collect } from './config-dir.js';

export interface ValidateProblem {
  file: string;
  /** 1-based index of the YAML document in its file. */
  document: number;
  /** 1-based line where the object (or the broken document) starts. */
  line: number;
  /** Empty for a document that could not be read as an object. */
  kind: string;
  namespace: string;
  name: string;
  /** Field path like "spec.http[1].route[0].weight"; empty for the whole object. */
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export interface ValidateReport {
  exitCode: 0 | 1 | 2;
  problems: ValidateProblem[];
  files: number;
  objects: number;
  istioObjects: number;
  /** Objects with at least one error. */
  invalidObjects: number;
  /** Documents that are not YAML/JSON objects (syntax errors, scalars, lists): exit 2. */
  unreadableDocuments: number;
  /** Usage and I/O errors (missing paths, unreadable files): exit 2. */
  fatal: string[];
}

export type OutputFormat = 'text' | 'json';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['text', 'json'];

interface RawObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Name shown for `-f -` (standard input). */
export const STDIN_NAME = '<stdin>';

/** Lists the files of every path; a missing path or a folder without config files is fatal. */
async function filesOf(paths: string[], fatal: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      files.push(STDIN_NAME);
      continue;
    }
    try {
      const found = await listConfigFiles([p]);
      if (found.length === 0) fatal.push(`${p}: no *.yaml, *.yml or *.json files`);
      files.push(...found);
    } catch (err) {
      fatal.push(err instanceof Error ? err.message : String(err));
    }
  }
  return [...new Set(files)];
}

/** Validates one document and returns its problems (warnings included). */
function checkDocument(doc: SourceDocument): { problems: ValidateProblem[]; kind: string; namespace: string; name: string; group: string } {
  const raw = (doc.object ?? {}) as RawObject;
  const kind = str(raw.kind);
  const result = validateResource(doc.object);
  const meta = result.ok ? result.value.metadata : undefined;
  const name = meta?.name ?? str(raw.metadata?.name);
  // Validation fills in "default" for namespaced kinds; cluster-scoped ones stay without.
  const namespace = meta ? meta.namespace ?? '' : str(raw.metadata?.namespace) || 'default';
  const issues = result.ok ? result.warnings : result.errors;
  const problems = issues.map((i) => ({
    file: doc.file, document: doc.index + 1, line: doc.line, kind: kind || '<no kind>', namespace, name,
    path: i.path, message: i.message, severity: i.severity,
  }));
  return { problems, kind, namespace, name, group: str(raw.apiVersion).split('/').slice(0, -1).join('/') };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The whole of `meshpilot validate` minus printing. A path "-" reads opts.stdin (default: process.stdin). */
export async function runValidate(paths: string[], opts: { stdin?: () => Promise<string> } = {}): Promise<ValidateReport> {
  const report: ValidateReport = { exitCode: 0, problems: [], files: 0, objects: 0, istioObjects: 0, invalidObjects: 0, unreadableDocuments: 0, fatal: [] };
  if (paths.length === 0) {
    report.fatal.push('no input: give at least one -f PATH (a file or a folder)');
    report.exitCode = 2;
    return report;
  }
  const files = await filesOf(paths, report.fatal);
  report.files = files.length;
  for (const file of files) {
    let text: string;
    try {
      text = file === STDIN_NAME ? await (opts.stdin ?? (() => readAll(process.stdin)))() : await readFile(file, 'utf8');
    } catch (err) {
      report.fatal.push(`${file}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    const { documents, errors } = parseDocuments(text, file);
    /** Document where each kind/namespace/name was first defined in this file, to flag duplicates. */
    const defined = new Map<string, number>();
    for (const e of errors) {
      report.unreadableDocuments++;
      const index = e.index ?? 0;
      report.problems.push({ file, document: index + 1, line: e.line ?? 1, kind: '', namespace: '', name: '', path: '', message: e.message, severity: 'error' });
    }
    for (const doc of documents) {
      report.objects++;
      const checked = checkDocument(doc);
      if (isIstioKind(checked.kind)) report.istioObjects++;
      if (checked.problems.some((p) => p.severity === 'error')) report.invalidObjects++;
      report.problems.push(...checked.problems);
      if (checked.kind && checked.name) {
        const key = `${checked.group} ${checked.kind} ${checked.namespace}/${checked.name}`;
        const first = defined.get(key);
        if (first === undefined) defined.set(key, doc.index + 1);
        else {
          report.problems.push({
            file, document: doc.index + 1, line: doc.line, kind: checked.kind, namespace: checked.namespace, name: checked.name,
            path: 'metadata.name', message: `duplicate: also defined in document ${first} of this file; only one of them takes effect`, severity: 'warning',
          });
        }
      }
    }
  }
  // Within a file, problems in document order (syntax errors were collected first).
  const fileOrder = new Map(files.map((f, i) => [f, i]));
  report.problems.sort((a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || a.document - b.document);
  if (report.fatal.length > 0 || report.unreadableDocuments > 0) report.exitCode = 2;
  else if (report.invalidObjects > 0) report.exitCode = 1;
  return report;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function formatSummary(report: ValidateReport): string {
  const warnings = report.problems.filter((p) => p.severity === 'warning').length;
  let line = `validated ${plural(report.objects, 'object')} (${report.istioObjects} Istio) in ${plural(report.files, 'file')}: ${report.invalidObjects} invalid, ${plural(warnings, 'warning')}`;
  if (report.unreadableDocuments > 0) line += `, ${plural(report.unreadableDocuments, 'unreadable document')}`;
  return line;
}

function formatProblem(p: ValidateProblem): string {
  const where = `${p.file}:${p.document}`;
  if (p.kind === '') return `${where}: ${p.message}`;
  const ref = p.namespace ? `${p.kind} ${p.namespace}/${p.name}` : `${p.kind} ${p.name}`;
  const path = p.path ? `${p.path}: ` : '';
  return `${where} ${ref}: ${path}${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}

/** Text report: one line per problem, then the summary. */
export function formatText(report: ValidateReport): string {
  return [...report.problems.map(formatProblem), formatSummary(report)].join('\n') + '\n';
}

/** JSON report: the problems array, pretty-printed. */
export function formatJson(report: ValidateReport): string {
  return JSON.stringify(report.problems, null, 2) + '\n';
}

/** What the command prints: the report on stdout, usage/I/O errors (and the JSON summary) on stderr. */
export function renderValidate(report: ValidateReport, format: OutputFormat): { stdout: string; stderr: string } {
  const fatal = report.fatal.map((f) => `error: ${f}\n`).join('');
  if (format === 'json') return { stdout: formatJson(report), stderr: fatal + formatSummary(report) + '\n' };
  return { stdout: formatText(report), stderr: fatal };
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Validate Istio resources (and the well-formedness of other objects) in files or folders; exit 0 valid, 1 invalid, 2 usage or I/O error')
    .argument('[paths...]', 'files or folders, like -f')
    .option('-f, --filename <path>', 'file or folder (recursive *.yaml, *.yml, *.json), - for standard input; repeatable', collect, [])
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (args: string[], opts: { filename: string[]; output: string }) => {
      if (!(OUTPUT_FORMATS as readonly string[]).includes(opts.output)) {
        process.stderr.write(`meshpilot validate: -o ${opts.output}: expected one of ${OUTPUT_FORMATS.join(', ')}\n`);
        process.exitCode = 2;
        return;
      }
      const report = await runValidate([...opts.filename, ...args]);
      const out = renderValidate(report, opts.output as OutputFormat);
      process.stdout.write(out.stdout);
      process.stderr.write(out.stderr);
      process.exitCode = report.exitCode;
    });
}
