import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { isIstioKind, validateResource } from '../api/index.js';
import { listConfigFiles, parseDocuments } from '../sources/documents.js';
import { collect } from './config-dir.js';

export interface ValidateProblem {
  file: string;
  /** 1-based document index in the file. */
  document: number;
  kind: string;
  namespace: string;
  name: string;
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
  /** Usage or I/O errors (exit 2). */
  fatal: string[];
}

/** The whole of `meshpilot validate` minus printing: testable, reusable. */
export async function runValidate(paths: string[]): Promise<ValidateReport> {
  const report: ValidateReport = { exitCode: 0, problems: [], files: 0, objects: 0, istioObjects: 0, fatal: [] };
  if (paths.length === 0) {
    report.fatal.push('no input: give at least one -f PATH');
    report.exitCode = 2;
    return report;
  }
  let files: string[];
  try {
    files = await listConfigFiles(paths);
  } catch (err) {
    report.fatal.push(err instanceof Error ? err.message : String(err));
    report.exitCode = 2;
    return report;
  }
  report.files = files.length;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      report.fatal.push(`${file}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    const { documents, errors } = parseDocuments(text, file);
    for (const e of errors) report.fatal.push(`${file}:${e.line ?? '?'}: ${e.message}`);
    for (const doc of documents) {
      report.objects++;
      const o = (doc.object ?? {}) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
      const kind = typeof o.kind === 'string' ? o.kind : '';
      const name = typeof o.metadata?.name === 'string' ? o.metadata.name : '';
      const namespace = typeof o.metadata?.namespace === 'string' && o.metadata.namespace ? o.metadata.namespace : 'default';
      if (isIstioKind(kind)) report.istioObjects++;
      const r = validateResource(doc.object);
      const issues = r.ok ? r.warnings : r.errors;
      for (const i of issues) report.problems.push({ file, document: doc.index + 1, kind: kind || '<no kind>', namespace, name, path: i.path, message: i.message, severity: i.severity });
    }
  }
  if (report.fatal.length > 0) report.exitCode = 2;
  else if (report.problems.some((p) => p.severity === 'error')) report.exitCode = 1;
  return report;
}

export function formatText(report: ValidateReport): string {
  const lines = report.problems.map((p) => `${p.file}:${p.document} ${p.kind} ${p.namespace}/${p.name}: ${p.path || '(object)'}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`);
  for (const f of report.fatal) lines.push(`error: ${f}`);
  const invalid = new Set(report.problems.filter((p) => p.severity === 'error').map((p) => `${p.file}:${p.document}`)).size;
  lines.push(`${report.objects} objects (${report.istioObjects} Istio) in ${report.files} files: ${invalid} invalid`);
  return lines.join('\n') + '\n';
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Validate Istio resources in files or folders (exit 0 valid, 1 invalid, 2 usage or I/O error)')
    .option('-f, --filename <path>', 'file or folder (recursive *.yaml, *.yml, *.json); repeatable', collect, [])
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { filename: string[]; output: string }) => {
      if (opts.output !== 'text' && opts.output !== 'json') {
        process.stderr.write(`meshpilot validate: -o ${opts.output}: expected text or json\n`);
        process.exit(2);
      }
      const report = await runValidate(opts.filename);
      if (opts.output === 'json') {
        process.stdout.write(JSON.stringify(report.problems, null, 2) + '\n');
        for (const f of report.fatal) process.stderr.write(`error: ${f}\n`);
      } else {
        process.stdout.write(formatText(report));
      }
      process.exitCode = report.exitCode;
    });
}
