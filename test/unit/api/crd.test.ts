/** The CRDs: generated from the schemas, current on disk, structural, and agreeing with validation. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { RE2JS } from 're2js';
import { crdFor, crdSchema, toStructural } from '../../../src/api/crd.js';
import { ISTIO_KINDS, type IstioKind, validateResource } from '../../../src/api/index.js';
import { CRD_HEADER, renderCrds, staleCrds, writeCrds } from '../../../src/cli/gen-crds.js';
import { listConfigFiles, parseDocuments } from '../../../src/sources/documents.js';

type Node = Record<string, unknown>;
const KINDS = Object.keys(ISTIO_KINDS).sort() as IstioKind[];

/** Kubernetes' structural-schema rules, plus what we promise on top (closed specs, RE2 patterns). */
function structuralProblems(node: Node, path: string, out: string[], inSpec: boolean): void {
  const open = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (!('type' in node) && node['x-kubernetes-int-or-string'] !== true && !open) out.push(`${path}: no type`);
  if ('properties' in node && 'additionalProperties' in node) out.push(`${path}: properties and additionalProperties together`);
  for (const bad of ['$ref', '$schema', '$defs', 'anyOf', 'oneOf', 'allOf', 'not', 'propertyNames', 'const', 'default', 'additionalItems']) if (bad in node) out.push(`${path}: ${bad}`);
  if (inSpec && open) out.push(`${path}: unknown fields preserved inside spec`);
  if (node.additionalProperties === false || node.additionalProperties === true) out.push(`${path}: boolean additionalProperties`);
  for (const k of ['exclusiveMinimum', 'exclusiveMaximum']) if (k in node && typeof node[k] !== 'boolean') out.push(`${path}: ${k} must be a boolean in OpenAPI v3.0`);
  if ('format' in node && !(node.type === 'integer' && (node.format === 'int32' || node.format === 'int64'))) out.push(`${path}: format ${String(node.format)}`);
  if (node.type === 'array' && typeof node.items !== 'object') out.push(`${path}: array without items`);
  if (typeof node.pattern === 'string') {
    try { RE2JS.compile(node.pattern); } catch (err) { out.push(`${path}: pattern not RE2: ${String(err)}`); }
  }
  if (Array.isArray(node.required)) for (const r of node.required as string[]) if (!(r in ((node.properties as Node) ?? {}))) out.push(`${path}: required ${r} is not a property`);
  for (const [k, v] of Object.entries((node.properties as Record<string, Node>) ?? {})) structuralProblems(v, `${path}.${k}`, out, inSpec || k === 'spec');
  if (typeof node.items === 'object') structuralProblems(node.items as Node, `${path}[]`, out, inSpec);
  if (typeof node.additionalProperties === 'object') structuralProblems(node.additionalProperties as Node, `${path}{}`, out, inSpec);
}

/** A small OpenAPI v3 value checker covering what the CRDs use, the way the apiserver reads them. */
function schemaErrors(schema: Node, value: unknown, path: string, out: string[]): void {
  if (value === null && schema.nullable === true) return;
  if (schema['x-kubernetes-int-or-string'] === true) {
    if (!(typeof value === 'string' || Number.isInteger(value))) out.push(`${path}: not int-or-string`);
    return;
  }
  const t = schema.type;
  const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : Number.isInteger(value) ? 'integer' : typeof value;
  if (t !== undefined && t !== actual && !(t === 'number' && actual === 'integer') && !(t === 'object' && actual === 'object')) {
    out.push(`${path}: ${actual}, expected ${String(t)}`);
    return;
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) out.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) out.push(`${path}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) out.push(`${path}: above maximum`);
  }
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !RE2JS.compile(schema.pattern).matcher(value).find()) out.push(`${path}: does not match ${schema.pattern}`);
  if (Array.isArray(value) && typeof schema.items === 'object') value.forEach((v, i) => schemaErrors(schema.items as Node, v, `${path}[${i}]`, out));
  if (actual === 'object' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const obj = value as Node;
    for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in obj)) out.push(`${path}.${r}: required`);
    const props = schema.properties as Record<string, Node> | undefined;
    for (const [k, v] of Object.entries(obj)) {
      if (props?.[k]) schemaErrors(props[k], v, `${path}.${k}`, out);
      else if (typeof schema.additionalProperties === 'object') schemaErrors(schema.additionalProperties as Node, v, `${path}.${k}`, out);
      else if (schema['x-kubernetes-preserve-unknown-fields'] !== true) out.push(`${path}.${k}: unknown field (would be pruned)`);
    }
  }
}

async function objectsIn(paths: string[]): Promise<Array<{ where: string; object: Node }>> {
  const out: Array<{ where: string; object: Node }> = [];
  for (const file of await listConfigFiles(paths)) {
    for (const d of parseDocuments(await readFile(file, 'utf8'), file).documents) out.push({ where: `${file}:${d.index + 1}`, object: d.object as Node });
  }
  return out;
}

describe('CRDs on disk', () => {
  it('crds/ is in sync with the schemas (run `npm run gen:crds` after changing src/api)', () => {
    assert.deepEqual(staleCrds('crds'), []);
  });

  it('one file per kind plus all.yaml, no YAML anchors or aliases, all.yaml is every CRD in kind order', () => {
    const files = renderCrds();
    assert.deepEqual([...files.keys()], [...KINDS.map((k) => `${ISTIO_KINDS[k].plural}.networking.istio.io.yaml`), 'all.yaml']);
    for (const [name, text] of files) {
      assert.ok(text.startsWith(CRD_HEADER), name);
      assert.doesNotMatch(text, /(^|\s)[&*]a\d+\b/m, `${name} has YAML anchors`);
    }
    const all = parseDocuments(files.get('all.yaml')!, 'all.yaml').documents.map((d) => (d.object as { metadata: { name: string } }).metadata.name);
    assert.deepEqual(all, KINDS.map((k) => `${ISTIO_KINDS[k].plural}.networking.istio.io`));
  });

  it('gen-crds writes the files, removes its own orphans and leaves other files alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshpilot-crds-'));
    try {
      await writeFile(join(dir, 'old.networking.istio.io.yaml'), `${CRD_HEADER}kind: CustomResourceDefinition\n`);
      await writeFile(join(dir, 'mine.yaml'), 'kind: ConfigMap\n');
      assert.deepEqual(staleCrds(dir).length, 7);
      writeCrds(dir);
      assert.deepEqual(staleCrds(dir), []);
      assert.equal(await readFile(join(dir, 'mine.yaml'), 'utf8'), 'kind: ConfigMap\n');
      await assert.rejects(readFile(join(dir, 'old.networking.istio.io.yaml')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('CRD per kind', () => {
  const expected: Record<IstioKind, { short: string[]; columns: string[] }> = {
    DestinationRule: { short: ['dr'], columns: ['Host:.spec.host', 'Age:.metadata.creationTimestamp'] },
    Gateway: { short: ['gw'], columns: ['Age:.metadata.creationTimestamp'] },
    ServiceEntry: { short: ['se'], columns: ['Hosts:.spec.hosts', 'Location:.spec.location', 'Resolution:.spec.resolution', 'Age:.metadata.creationTimestamp'] },
    Sidecar: { short: [], columns: ['Age:.metadata.creationTimestamp'] },
    VirtualService: { short: ['vs'], columns: ['Gateways:.spec.gateways', 'Hosts:.spec.hosts', 'Age:.metadata.creationTimestamp'] },
  };
  for (const kind of KINDS) {
    it(`${kind}: names, versions v1 (stored)/v1beta1/v1alpha3, status subresource, printer columns, structural schema`, () => {
      const crd = crdFor(kind) as {
        metadata: { name: string };
        spec: { group: string; scope: string; names: { kind: string; plural: string; listKind: string; shortNames?: string[]; categories: string[] }; versions: Array<{ name: string; served: boolean; storage: boolean; subresources: unknown; additionalPrinterColumns: Array<{ name: string; jsonPath: string }>; schema: { openAPIV3Schema: Node } }> };
      };
      const info = ISTIO_KINDS[kind];
      assert.equal(crd.metadata.name, `${info.plural}.networking.istio.io`);
      assert.equal(crd.spec.group, 'networking.istio.io');
      assert.equal(crd.spec.scope, 'Namespaced');
      assert.deepEqual([crd.spec.names.kind, crd.spec.names.listKind], [kind, `${kind}List`]);
      assert.deepEqual(crd.spec.names.shortNames ?? [], expected[kind].short);
      assert.deepEqual(crd.spec.names.categories, ['istio-io', 'networking-istio-io']);
      assert.deepEqual(crd.spec.versions.map((v) => [v.name, v.served, v.storage]), [['v1', true, true], ['v1beta1', true, false], ['v1alpha3', true, false]]);
      for (const v of crd.spec.versions) {
        assert.deepEqual(v.subresources, { status: {} });
        assert.deepEqual(v.additionalPrinterColumns.map((c) => `${c.name}:${c.jsonPath}`), expected[kind].columns);
        assert.deepEqual(v.schema.openAPIV3Schema, crd.spec.versions[0].schema.openAPIV3Schema);
      }
      const problems: string[] = [];
      structuralProblems(crd.spec.versions[0].schema.openAPIV3Schema, kind, problems, false);
      assert.deepEqual(problems, []);
      const status = (crd.spec.versions[0].schema.openAPIV3Schema.properties as Record<string, Node>).status;
      assert.equal(status['x-kubernetes-preserve-unknown-fields'], true);
    });
  }

  it('mirrors the schema: required fields, enums, integer ranges and formats, maps, durations', () => {
    const spec = (crdSchema('VirtualService').properties as Record<string, Node>).spec;
    const http = ((spec.properties as Record<string, Node>).http.items as Node).properties as Record<string, Node>;
    const dest = ((http.route.items as Node).properties as Record<string, Node>).destination;
    assert.deepEqual(dest.required, ['host']);
    assert.deepEqual((dest.properties as Record<string, Node>).port, { type: 'object', properties: { number: { type: 'integer', minimum: 1, maximum: 65535, format: 'int32' } } });
    assert.deepEqual((http.corsPolicy.properties as Record<string, Node>).unmatchedPreflights, { type: 'string', enum: ['UNSPECIFIED', 'FORWARD', 'IGNORE'] });
    const headers = ((http.match.items as Node).properties as Record<string, Node>).headers;
    assert.equal(headers.type, 'object');
    assert.deepEqual(Object.keys((headers.additionalProperties as Node).properties as Node), ['exact', 'prefix', 'regex']);
    assert.equal(http.timeout.type, 'string');
    assert.ok(RE2JS.compile(http.timeout.pattern as string).matcher('1.5s').matches());
    const servers = ((crdSchema('Gateway').properties as Record<string, Node>).spec.properties as Record<string, Node>).servers;
    assert.deepEqual((servers.items as Node).required, ['port', 'hosts']);
  });
});

describe('CRD schemas agree with validation', () => {
  let examples: Array<{ where: string; object: Node }> = [];
  let invalid: Array<{ where: string; object: Node }> = [];
  before(async () => {
    examples = (await objectsIn(['examples'])).filter((o) => o.object.apiVersion?.toString().startsWith('networking.istio.io/'));
    invalid = (await objectsIn(['test/fixtures/validate/types.yaml'])).filter((o) => o.object.kind !== 'Service' && o.object.kind !== 'Gateway');
  });

  it('every Istio object in examples/ is accepted by its CRD schema, with nothing pruned', () => {
    assert.ok(examples.length >= 10, `only ${examples.length} examples`);
    for (const { where, object } of examples) {
      assert.ok(validateResource(object).ok, where);
      const errors: string[] = [];
      schemaErrors((crdSchema(object.kind as IstioKind).properties as Record<string, Node>).spec, object.spec, 'spec', errors);
      assert.deepEqual(errors, [], where);
    }
  });

  it('type errors that validation reports are rejected by the CRD schema too', () => {
    assert.equal(invalid.length, 2);
    const got = invalid.map(({ object }) => {
      const errors: string[] = [];
      schemaErrors((crdSchema(object.kind as IstioKind).properties as Record<string, Node>).spec, object.spec, 'spec', errors);
      return errors;
    });
    assert.deepEqual(got, [
      ['spec.http[0].fault.delay.fixedDelay: does not match ^(?:\\d+(?:\\.\\d+)?(?:h|m|s|ms|us|µs|ns))+$', 'spec.http[0].fault.delay.percentage.value: above maximum', 'spec.http[0].route[0].destination.port.number: above maximum'],
      ['spec.trafficPolicy.loadBalancer.simple: "FASTEST" not in enum'],
    ]);
  });
});

describe('toStructural', () => {
  const cases: Array<{ name: string; in: Node; out: Node | RegExp }> = [
    { name: 'int or string', in: { anyOf: [{ type: 'integer' }, { type: 'string' }] }, out: { 'x-kubernetes-int-or-string': true } },
    { name: 'nullable string (type list)', in: { type: ['string', 'null'] }, out: { nullable: true, type: 'string' } },
    { name: 'nullable via anyOf', in: { anyOf: [{ type: 'integer', minimum: 0, maximum: 10 }, { type: 'null' }] }, out: { type: 'integer', minimum: 0, maximum: 10, format: 'int32', nullable: true } },
    { name: 'literal', in: { type: 'string', const: 'x' }, out: { type: 'string', enum: ['x'] } },
    { name: 'union of literals', in: { anyOf: [{ type: 'string', const: 'A' }, { type: 'string', enum: ['B', 'C'] }] }, out: { type: 'string', enum: ['A', 'B', 'C'] } },
    {
      name: 'union of objects merges properties, required only when always required',
      in: { anyOf: [{ type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, required: ['a', 'b'] }, { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }] },
      out: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, required: ['a'] },
    },
    { name: 'zod safe-integer bounds dropped, int64 format', in: { type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991 }, out: { type: 'integer', format: 'int64' } },
    { name: 'exclusive bounds become OpenAPI v3.0 flags', in: { type: 'number', exclusiveMinimum: 0 }, out: { type: 'number', minimum: 0, exclusiveMinimum: true } },
    { name: 'map', in: { type: 'object', propertyNames: { type: 'string' }, additionalProperties: { type: 'string' } }, out: { type: 'object', additionalProperties: { type: 'string' } } },
    { name: 'strict object', in: { type: 'object', properties: { a: { type: 'boolean' } }, additionalProperties: false }, out: { type: 'object', properties: { a: { type: 'boolean' } } } },
    { name: 'loose object keeps unknown fields', in: { type: 'object', properties: { a: { type: 'boolean' } }, additionalProperties: {} }, out: { type: 'object', properties: { a: { type: 'boolean' } }, 'x-kubernetes-preserve-unknown-fields': true } },
    { name: 'open value', in: {}, out: { 'x-kubernetes-preserve-unknown-fields': true } },
    { name: '$ref is refused', in: { type: 'object', properties: { a: { $ref: '#/$defs/x' } } }, out: /spec\.a: \$ref/ },
    { name: 'mixed union is refused', in: { type: 'object', properties: { a: { anyOf: [{ type: 'boolean' }, { type: 'string' }] } } }, out: /spec\.a: a union of boolean, string/ },
    { name: 'typed extra fields beside properties are refused', in: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } }, out: /spec: known properties plus typed additionalProperties/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.out instanceof RegExp) assert.throws(() => toStructural(c.in), c.out);
      else assert.deepEqual(toStructural(c.in), c.out);
    });
  }
});
