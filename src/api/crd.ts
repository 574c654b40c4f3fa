/**
 * CustomResourceDefinitions generated from the same zod schemas that validate the objects, so the
 * apiserver and meshpilot agree on every field. The JSON Schema from zod is reduced to Kubernetes'
 * structural-schema rules (every node typed, no additionalProperties beside properties, no $schema).
 */
import { z } from 'zod';
import { ISTIO_KINDS, type IstioKind } from './kinds.js';

type Json = Record<string, unknown>;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Rewrites a zod JSON Schema node into a Kubernetes structural schema node. */
export function toStructural(node: Json): Json {
  const out: Json = {};
  const type = node.type;
  if (Array.isArray(type)) {
    // number|string (e.g. observedGeneration) is the apiserver's int-or-string.
    out['x-kubernetes-int-or-string'] = true;
  } else if (typeof type === 'string') {
    out.type = type;
  }
  if (typeof node.description === 'string') out.description = node.description;
  if (Array.isArray(node.enum)) out.enum = node.enum;
  if (typeof node.pattern === 'string') out.pattern = node.pattern;
  for (const k of ['minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems'] as const) {
    const v = node[k];
    if (typeof v === 'number' && Math.abs(v) < MAX_SAFE) out[k] = v;
  }
  if (type === 'integer') out.format = typeof node.maximum === 'number' && node.maximum <= 2147483647 && typeof node.minimum === 'number' && node.minimum >= -2147483648 ? 'int32' : 'int64';
  if (node.properties && typeof node.properties === 'object') {
    const props: Json = {};
    for (const [k, v] of Object.entries(node.properties as Json)) props[k] = toStructural(v as Json);
    out.properties = props;
    if (Array.isArray(node.required) && node.required.length) out.required = [...node.required];
    const ap = node.additionalProperties;
    if (ap && typeof ap === 'object' && Object.keys(ap).length === 0) out['x-kubernetes-preserve-unknown-fields'] = true;
  } else if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    const ap = node.additionalProperties as Json;
    if (Object.keys(ap).length === 0) out['x-kubernetes-preserve-unknown-fields'] = true;
    else out.additionalProperties = toStructural(ap);
  }
  if (node.items && typeof node.items === 'object') out.items = toStructural(node.items as Json);
  return out;
}

const PRINTER_COLUMNS: Record<IstioKind, Json[]> = {
  VirtualService: [
    { name: 'Gateways', type: 'string', description: 'The names of gateways and sidecars that should apply these routes', jsonPath: '.spec.gateways' },
    { name: 'Hosts', type: 'string', description: 'The destination hosts to which traffic is being sent', jsonPath: '.spec.hosts' },
  ],
  DestinationRule: [{ name: 'Host', type: 'string', description: 'The name of a service from the service registry', jsonPath: '.spec.host' }],
  Gateway: [],
  ServiceEntry: [
    { name: 'Hosts', type: 'string', description: 'The hosts associated with the ServiceEntry', jsonPath: '.spec.hosts' },
    { name: 'Location', type: 'string', description: 'Whether the service is external to the mesh or part of the mesh (MESH_EXTERNAL or MESH_INTERNAL)', jsonPath: '.spec.location' },
    { name: 'Resolution', type: 'string', description: 'Service resolution mode for the hosts (NONE, STATIC, or DNS)', jsonPath: '.spec.resolution' },
  ],
  Sidecar: [],
};

const AGE: Json = { name: 'Age', type: 'date', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', jsonPath: '.metadata.creationTimestamp' };

export function crdFor(kind: IstioKind): Json {
  const info = ISTIO_KINDS[kind];
  const spec = toStructural(z.toJSONSchema(info.specSchema, { unrepresentable: 'any' }) as Json);
  const schema = {
    openAPIV3Schema: {
      type: 'object',
      properties: {
        spec,
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  };
  const versions = ['v1', 'v1beta1', 'v1alpha3'].map((name) => ({
    name,
    served: true,
    storage: name === 'v1',
    subresources: { status: {} },
    additionalPrinterColumns: [...PRINTER_COLUMNS[kind], AGE],
    schema,
  }));
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${info.plural}.networking.istio.io`,
      labels: { 'app.kubernetes.io/part-of': 'meshpilot', 'app.kubernetes.io/managed-by': 'meshpilot-gen-crds' },
    },
    spec: {
      group: 'networking.istio.io',
      names: { kind: info.kind, listKind: info.listKind, plural: info.plural, singular: info.singular, ...(info.shortNames.length ? { shortNames: info.shortNames } : {}), categories: ['istio-io', 'networking-istio-io'] },
      scope: 'Namespaced',
      versions,
    },
  };
}

export function allCrds(): Array<{ file: string; crd: Json }> {
  return (Object.keys(ISTIO_KINDS) as IstioKind[]).sort().map((k) => ({ file: `${ISTIO_KINDS[k].plural}.networking.istio.io.yaml`, crd: crdFor(k) }));
}
