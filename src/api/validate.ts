/**
 * The boundary parser: raw objects (from YAML, JSON or the Kubernetes API) in, typed and
 * validated resources or a list of issues with field paths out.
 */
import type { z } from 'zod';
import { ISTIO_API_VERSIONS } from './common.js';
import type { Issues } from './checks.js';
import { KUBE_SCHEMAS } from './kube.js';
import { formatPath, type ValidationIssue, type ValidationResult } from './result.js';
import { ISTIO_KINDS, type IstioKind, type Resource } from './kinds.js';

function zodIssues(error: z.ZodError): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatPath([...issue.path, key]), message: `unknown field "${key}"`, severity: 'error' });
    } else if (issue.code === 'invalid_union' && 'errors' in issue && Array.isArray(issue.errors) && issue.errors.length > 0) {
      out.push({ path: formatPath(issue.path), message: issue.message, severity: 'error' });
    } else {
      out.push({ path: formatPath(issue.path), message: issue.message, severity: 'error' });
    }
  }
  return out;
}

const CLUSTER_SCOPED = new Set(['Namespace', 'Node', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'PriorityClass']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** "VirtualService default/reviews" */
export function resourceRef(obj: { kind: string; metadata?: { name?: string; namespace?: string } }): string {
  const ns = obj.metadata?.namespace ?? 'default';
  return `${obj.kind} ${ns}/${obj.metadata?.name ?? '?'}`;
}

function withDefaultNamespace(doc: Record<string, unknown>): Record<string, unknown> {
  const kind = String(doc.kind);
  const meta = isRecord(doc.metadata) ? doc.metadata : undefined;
  if (!meta || CLUSTER_SCOPED.has(kind) || (typeof meta.namespace === 'string' && meta.namespace !== '')) return doc;
  return { ...doc, metadata: { ...meta, namespace: 'default' } };
}

export function isIstioKind(kind: string): kind is IstioKind {
  return Object.prototype.hasOwnProperty.call(ISTIO_KINDS, kind);
}

export function validateResource(raw: unknown): ValidationResult<Resource> {
  if (!isRecord(raw)) return { ok: false, errors: [{ path: '', message: 'a resource must be an object', severity: 'error' }] };
  if (typeof raw.kind !== 'string' || raw.kind === '') return { ok: false, errors: [{ path: 'kind', message: 'kind is required', severity: 'error' }] };
  if (typeof raw.apiVersion !== 'string' || raw.apiVersion === '') return { ok: false, errors: [{ path: 'apiVersion', message: 'apiVersion is required', severity: 'error' }] };
  if (!isRecord(raw.metadata) || typeof raw.metadata.name !== 'string' || raw.metadata.name === '') {
    return { ok: false, errors: [{ path: 'metadata.name', message: 'metadata.name is required', severity: 'error' }] };
  }
  const doc = withDefaultNamespace(raw);
  const kind = raw.kind;
  const apiVersion = raw.apiVersion;

  if (isIstioKind(kind) && apiVersion.startsWith('networking.istio.io/')) {
    if (!(ISTIO_API_VERSIONS as readonly string[]).includes(apiVersion)) {
      return { ok: false, errors: [{ path: 'apiVersion', message: `apiVersion must be one of ${ISTIO_API_VERSIONS.join(', ')}`, severity: 'error' }] };
    }
    const def = ISTIO_KINDS[kind];
    const parsed = def.schema.safeParse(doc);
    if (!parsed.success) return { ok: false, errors: zodIssues(parsed.error) };
    const issues: Issues = def.semantics(parsed.data.spec as never);
    const errors = issues.list.filter((i) => i.severity === 'error');
    if (errors.length > 0) return { ok: false, errors: issues.list };
    return { ok: true, value: parsed.data as unknown as Resource, warnings: issues.list };
  }
  const kubeKind = kind as keyof typeof KUBE_SCHEMAS;
  const expectedApi = kind === 'EndpointSlice' ? 'discovery.k8s.io/v1' : 'v1';
  if (Object.prototype.hasOwnProperty.call(KUBE_SCHEMAS, kind) && apiVersion === expectedApi) {
    const parsed = KUBE_SCHEMAS[kubeKind].safeParse(doc);
    if (!parsed.success) return { ok: false, errors: zodIssues(parsed.error) };
    return { ok: true, value: parsed.data as unknown as Resource, warnings: [] };
  }
  return { ok: true, value: doc as unknown as Resource, warnings: [] };
}
