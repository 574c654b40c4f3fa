/** Validation results are data: the same issues feed the CLI, logs, metrics and (later) status conditions. */
export type Severity = 'error' | 'warning';

export interface ValidationIssue {
  /** Field path in dotted form with indexes, e.g. "spec.http[1].route[0].weight". Empty for the whole object. */
  path: string;
  message: string;
  severity: Severity;
}

export type ValidationResult<T> =
  | { ok: true; value: T; warnings: ValidationIssue[] }
  | { ok: false; errors: ValidationIssue[] };

/** Formats a path array (from zod or hand-built) as "spec.http[1].route[0].weight". */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}
