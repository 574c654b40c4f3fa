/** The CRDs in crds/ are generated from the schemas, current, and structural. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crdFor } from '../../../src/api/crd.js';
import { staleCrds } from '../../../src/cli/gen-crds.js';

type Node = Record<string, unknown>;

function structuralProblems(node: Node, path: string, out: string[]): void {
  if (!('type' in node) && !node['x-kubernetes-int-or-string'] && !node['x-kubernetes-preserve-unknown-fields']) out.push(`${path}: no type`);
  if (node.properties && node.additionalProperties) out.push(`${path}: properties and additionalProperties together`);
  for (const bad of ['$ref', '$schema', 'anyOf', 'oneOf', 'allOf', 'propertyNames']) if (bad in node) out.push(`${path}: ${bad}`);
  for (const [k, v] of Object.entries((node.properties as Record<string, Node>) ?? {})) structuralProblems(v, `${path}.${k}`, out);
  if (node.items) structuralProblems(node.items as Node, `${path}[]`, out);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') structuralProblems(node.additionalProperties as Node, `${path}{}`, out);
}

describe('CRDs', () => {
  it('crds/ is in sync with the schemas (run `npm run gen:crds` after changing src/api)', () => {
    assert.deepEqual(staleCrds('crds'), []);
  });

  for (const kind of ['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'Sidecar'] as const) {
    it(`${kind}: structural schema, three served versions, v1 stored, status subresource`, () => {
      const crd = crdFor(kind) as { spec: { group: string; versions: Array<{ name: string; served: boolean; storage: boolean; subresources: unknown; schema: { openAPIV3Schema: Node } }> } };
      assert.equal(crd.spec.group, 'networking.istio.io');
      assert.deepEqual(crd.spec.versions.map((v) => [v.name, v.served, v.storage]), [['v1', true, true], ['v1beta1', true, false], ['v1alpha3', true, false]]);
      const problems: string[] = [];
      structuralProblems(crd.spec.versions[0].schema.openAPIV3Schema, kind, problems);
      assert.deepEqual(problems, []);
      assert.deepEqual(crd.spec.versions[0].subresources, { status: {} });
    });
  }

  it('mirrors the schema: enums, required fields and integer ranges', () => {
    const vs = crdFor('VirtualService') as { spec: { versions: Array<{ schema: { openAPIV3Schema: Node } }>; names: { shortNames: string[] } } };
    const spec = (vs.spec.versions[0].schema.openAPIV3Schema.properties as Record<string, Node>).spec;
    const http = ((spec.properties as Record<string, Node>).http.items as Node).properties as Record<string, Node>;
    const dest = (((http.route.items as Node).properties as Record<string, Node>).destination);
    assert.deepEqual(dest.required, ['host']);
    const port = ((dest.properties as Record<string, Node>).port.properties as Record<string, Node>).number;
    assert.equal(port.type, 'integer');
    assert.equal(port.minimum, 1);
    assert.equal(port.maximum, 65535);
    const cors = (http.corsPolicy.properties as Record<string, Node>).unmatchedPreflights;
    assert.deepEqual(cors.enum, ['UNSPECIFIED', 'FORWARD', 'IGNORE']);
    assert.deepEqual(vs.spec.names.shortNames, ['vs']);
  });
});
