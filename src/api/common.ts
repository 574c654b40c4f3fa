/** Shared building blocks of the Istio networking schemas. */
import { z } from 'zod';

const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:h|m|s|ms|us|µs|ns))+$/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 0.000001 };

/** A protobuf/Go duration string such as "10s", "1.5s", "100ms", "1h2m". */
export const Duration = z.string().regex(DURATION_RE, 'must be a duration like "10s", "1.5s", "100ms" or "1h2m"');

/** Milliseconds in a duration string; throws on a malformed one (validated input never is). */
export function durationToMillis(d: string): number {
  if (!DURATION_RE.test(d)) throw new Error(`invalid duration "${d}"`);
  let total = 0;
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) total += Number(m[1]) * UNIT_MS[m[2]];
  return total;
}

export const PortNumber = z.int().min(1).max(65535);
export const UInt32 = z.int().min(0).max(4294967295);
export const Int32 = z.int().min(-2147483648).max(2147483647);

export const Labels = z.record(z.string(), z.string());

/** Percent: { value: 0..100 } (double). */
export const Percent = z.strictObject({ value: z.number().min(0).max(100) });
export type Percent = z.infer<typeof Percent>;

export const StringMatch = z.strictObject({
  exact: z.string().optional(),
  prefix: z.string().optional(),
  regex: z.string().optional(),
});
export type StringMatch = z.infer<typeof StringMatch>;

export const WorkloadSelector = z.strictObject({ labels: Labels.optional() });
export type WorkloadSelector = z.infer<typeof WorkloadSelector>;

export const PortSelector = z.strictObject({ number: PortNumber.optional() });
export type PortSelector = z.infer<typeof PortSelector>;

export const ObjectMeta = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  labels: Labels.optional(),
  annotations: Labels.optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: z.string().optional(),
  uid: z.string().optional(),
});
/** Metadata after validation: namespace is always set for namespaced kinds. */
export type ObjectMeta = z.infer<typeof ObjectMeta> & { namespace: string };

/** Istio's status block: written by controllers, accepted loosely. */
export const IstioStatus = z.looseObject({
  conditions: z.array(z.looseObject({
    type: z.string().optional(),
    status: z.string().optional(),
    lastProbeTime: z.string().optional(),
    lastTransitionTime: z.string().optional(),
    reason: z.string().optional(),
    message: z.string().optional(),
    observedGeneration: z.union([z.number(), z.string()]).optional(),
  })).optional(),
  validationMessages: z.array(z.looseObject({
    type: z.looseObject({ code: z.string().optional(), name: z.string().optional() }).optional(),
    level: z.string().optional(),
    documentationUrl: z.string().optional(),
  })).optional(),
  observedGeneration: z.union([z.number(), z.string()]).optional(),
});

export const ISTIO_API_VERSIONS = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'] as const;

/** Builds the whole-object schema of an Istio kind around its spec schema. */
export function istioObject<K extends string, S extends z.ZodType>(kind: K, spec: S) {
  return z.looseObject({
    apiVersion: z.enum(ISTIO_API_VERSIONS),
    kind: z.literal(kind),
    metadata: ObjectMeta,
    spec,
    status: IstioStatus.optional(),
  });
}
