/**
 * CustomResourceDefinitions generated from the same zod schemas that validate the objects, so the
 * apiserver and meshpilot agree on every field. zod's JSON Schema (input side: fields with defaults
 * are optional) is reduced to Kubernetes' structural-schema rules: every node has a type, no $ref,
 * no additionalProperties beside properties, unions folded into one typed node, unknown fields kept
 * only where the schema itself is open.
 */
import { z } from 'zod';
import { ISTIO_KINDS, type IstioKind } from './kinds.js';

type Json = Record<string, unknown>;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The non-null branches of an anyOf/oneOf, and whether null was one of them. */
function branches(node: Json): { options: Json[]; nullable: boolean } {
  const list = (node.anyOf ?? node.oneOf) as unknown[];
  const options = list.filter(isRecord).filter((b) => b.type !== 'null');
  return { options, nullable: options.length !== list.length };
}

/** Folds a union into one structural node: int|string → int-or-string, objects → merged properties. */
function foldUnion(node: Json, path: string): Json {
  const { options, nullable } = branches(node);
  const extra: Json = nullable ? { nullable: true } : {};
  if (options.length === 1) return { ...toStructural({ ...node, ...options[0], anyOf: undefined, oneOf: undefined }, path), ...extra };
  const types = new Set(options.map((o) => o.type));
  if (types.size === 2 && types.has('string') && (types.has('integer') || types.has('number'))) {
    return { ...(typeof node.description === 'string' ? { description: node.description } : {}), 'x-kubernetes-int-or-string': true, ...extra };
  }
  if (types.size === 1 && types.has('object')) {
    const properties: Json = {};
    for (const o of options) Object.assign(properties, o.properties);
    // A field is required only when every branch requires it.
    const required = ((options[0].required as string[] | undefined) ?? []).filter((r) => options.every((o) => ((o.required as string[] | undefined) ?? []).includes(r)));
    return { ...toStructural({ type: 'object', description: node.description, properties, required }, path), ...extra };
  }
  if (types.size === 1 && options.every((o) => Array.isArray(o.enum) || 'const' in o)) {
    const values = options.flatMap((o) => (Array.isArray(o.enum) ? o.enum : [o.const]));
    return { ...toStructural({ type: options[0].type, description: node.description, enum: values }, path), ...extra };
  }
  throw new Error(`${path}: a union of ${[...types].join(', ')} has no structural form; change the schema`);
}

/**
 * Rewrites a zod JSON Schema node into a Kubernetes structural schema node. Throws naming the field
 * path for constructs Kubernetes cannot take ($ref, unions without a structural form, untyped nodes).
 */
export function toStructural(node: Json, path = 'spec'): Json {
  if ('$ref' in node) throw new Error(`${path}: $ref (recursive or shared schema) cannot be expressed in a CRD`);
  if (Array.isArray(node.anyOf) || Array.isArray(node.oneOf)) return foldUnion(node, path);
  if (Array.isArray(node.allOf)) throw new Error(`${path}: allOf (intersection) cannot be expressed in a CRD`);
  const out: Json = {};
  let type = node.type;
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null');
    if (nonNull.length !== 1) return foldUnion({ ...node, type: undefined, anyOf: type.map((t) => ({ type: t })) }, path);
    out.nullable = true;
    type = nonNull[0];
  }
  if (typeof type !== 'string') {
    // An open value (z.unknown/z.any): keep whatever is written.
    if (Object.keys(node).every((k) => k === 'description' || k === 'default')) return { ...(typeof node.description === 'string' ? { description: node.description } : {}), 'x-kubernetes-preserve-unknown-fields': true };
    throw new Error(`${path}: node without a type: ${JSON.stringify(node)}`);
  }
  out.type = type;
  if (typeof node.description === 'string') out.description = node.description;
  if (Array.isArray(node.enum)) out.enum = [...node.enum];
  else if ('const' in node) out.enum = [node.const];
  if (typeof node.pattern === 'string') out.pattern = node.pattern;
  for (const k of ['minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems'] as const) {
    const v = node[k];
    // zod's implicit ±MAX_SAFE_INTEGER bounds on z.int() say nothing; leave them out.
    if (typeof v === 'number' && Math.abs(v) < Number.MAX_SAFE_INTEGER) out[k] = v;
  }
  // JSON Schema 2020-12 gives exclusive bounds as numbers; OpenAPI v3.0 as flags on minimum/maximum.
  if (typeof node.exclusiveMinimum === 'number') Object.assign(out, { minimum: node.exclusiveMinimum, exclusiveMinimum: true });
  if (typeof node.exclusiveMaximum === 'number') Object.assign(out, { maximum: node.exclusiveMaximum, exclusiveMaximum: true });
  if (type === 'integer') {
    const int32 = typeof node.minimum === 'number' && node.minimum >= INT32_MIN && typeof node.maximum === 'number' && node.maximum <= INT32_MAX;
    out.format = int32 ? 'int32' : 'int64';
  }
  if (type === 'object') {
    const ap = node.additionalProperties;
    if (isRecord(node.properties)) {
      const props: Json = {};
      for (const [k, v] of Object.entries(node.properties)) props[k] = toStructural(v as Json, `${path}.${k}`);
      out.properties = props;
      if (Array.isArray(node.required) && node.required.length > 0) out.required = [...node.required];
      // A loose object (known fields plus anything else) keeps the unknown ones.
      if (ap === true || (isRecord(ap) && Object.keys(ap).length === 0)) out['x-kubernetes-preserve-unknown-fields'] = true;
      else if (isRecord(ap)) throw new Error(`${path}: known properties plus typed additionalProperties cannot be expressed in a CRD`);
    } else if (isRecord(ap) && Object.keys(ap).length > 0) {
      out.additionalProperties = toStructural(ap, `${path}{}`);
    } else if (ap !== false) {
      out['x-kubernetes-preserve-unknown-fields'] = true;
    }
  }
  if (type === 'array') {
    if (!isRecord(node.items)) throw new Error(`${path}: array without items`);
    out.items = toStructural(node.items, `${path}[]`);
  }
  return out;
}

/** What each kind's spec is for; shown by `kubectl explain`. */
const SPEC_DESCRIPTIONS: Record<IstioKind, string> = {
  VirtualService: 'How requests to a set of hosts are routed: match conditions, destinations and weights, rewrites, redirects, retries, timeouts, fault injection and mirroring.',
  DestinationRule: 'Policies for traffic to a service after routing: load balancing, connection pools, outlier detection, client TLS, and named subsets of its endpoints.',
  Gateway: 'Ports, protocols, hosts and TLS settings that a gateway proxy exposes at the edge of the mesh.',
  ServiceEntry: 'Adds a service to the mesh registry, usually one outside the mesh: its hosts, ports, location, resolution and endpoints.',
  Sidecar: 'Which ports a sidecar proxy accepts and which services it can reach, for the workloads it selects.',
};

const PRINTER_COLUMNS: Record<IstioKind, Json[]> = {
  VirtualService: [
    { name: 'Gateways', type: 'string', description: 'Gateways and sidecars these routes apply to', jsonPath: '.spec.gateways' },
    { name: 'Hosts', type: 'string', description: 'Hosts the routes are for', jsonPath: '.spec.hosts' },
  ],
  DestinationRule: [{ name: 'Host', type: 'string', description: 'Service the policies apply to', jsonPath: '.spec.host' }],
  Gateway: [],
  ServiceEntry: [
    { name: 'Hosts', type: 'string', description: 'Hosts of the entry', jsonPath: '.spec.hosts' },
    { name: 'Location', type: 'string', description: 'MESH_EXTERNAL or MESH_INTERNAL', jsonPath: '.spec.location' },
    { name: 'Resolution', type: 'string', description: 'How endpoints are found: NONE, STATIC, DNS or DNS_ROUND_ROBIN', jsonPath: '.spec.resolution' },
  ],
  Sidecar: [],
};

const AGE: Json = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const CRD_GROUP = 'networking.istio.io';
/** Served versions, all with the same schema; v1 is stored. */
export const CRD_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'] as const;

/** The openAPIV3Schema of a kind: spec mirrors the zod schema, status is open (controllers own it). */
export function crdSchema(kind: IstioKind): Json {
  const json = z.toJSONSchema(ISTIO_KINDS[kind].specSchema, { io: 'input', unrepresentable: 'throw' }) as Json;
  const spec = toStructural(json, `${kind}.spec`);
  return {
    type: 'object',
    properties: {
      spec: { type: spec.type, description: SPEC_DESCRIPTIONS[kind], ...spec },
      status: { type: 'object', description: 'Written by controllers: conditions and validation messages.', 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
}

export function crdFor(kind: IstioKind): Json {
  const info = ISTIO_KINDS[kind];
  const openAPIV3Schema = crdSchema(kind);
  const versions = CRD_VERSIONS.map((name) => ({
    name,
    served: true,
    storage: name === 'v1',
    subresources: { status: {} },
    additionalPrinterColumns: [...PRINTER_COLUMNS[kind], AGE],
    schema: { openAPIV3Schema },
  }));
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${info.plural}.${CRD_GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'meshpilot', 'app.kubernetes.io/managed-by': 'meshpilot-gen-crds' },
    },
    spec: {
      group: CRD_GROUP,
      names: {
        kind: info.kind,
        listKind: info.listKind,
        plural: info.plural,
        singular: info.singular,
        ...(info.shortNames.length > 0 ? { shortNames: [...info.shortNames] } : {}),
        categories: ['istio-io', 'networking-istio-io'],
      },
      scope: 'Namespaced',
      versions,
    },
  };
}

/** Every CRD with its file name, sorted by kind. */
export function allCrds(): Array<{ file: string; crd: Json }> {
  return (Object.keys(ISTIO_KINDS) as IstioKind[]).sort().map((k) => ({ file: `${ISTIO_KINDS[k].plural}.${CRD_GROUP}.yaml`, crd: crdFor(k) }));
}
