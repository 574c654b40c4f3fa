/** The file source on a real folder with real file watching: load, add, change, delete, invalid input, broken files. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createMetrics } from '../../../src/admin/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { Registry } from '../../../src/registry/store.js';
import { FileSource } from '../../../src/sources/file/file-source.js';

const vsYaml = (name: string, subset: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: ${subset}}
`;

describe('FileSource', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-fs-'));
  const registry = new Registry();
  const metrics = createMetrics();
  let source: FileSource;
  after(async () => { await source?.stop(); rmSync(dir, { recursive: true, force: true }); });

  const subsetOf = (name: string) => {
    const o = registry.get('VirtualService', 'default', name) as { spec: { http: Array<{ route: Array<{ destination: { subset: string } }> }> } } | undefined;
    return o?.spec.http[0].route[0].destination.subset;
  };

  it('loads the folder recursively on start (other kinds ignored)', async () => {
    writeFileSync(join(dir, 'a.yaml'), vsYaml('a', 'v1') + '---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n');
    source = new FileSource({ dir, registry, logger: silentLogger, metrics, settleMs: 20 });
    await source.start();
    assert.equal(subsetOf('a'), 'v1');
    assert.equal(registry.objects().length, 1);
  });

  it('applies an added file, a change and a deletion', async () => {
    let next = registry.nextChange();
    writeFileSync(join(dir, 'b.yml'), vsYaml('b', 'v2'));
    await next;
    assert.equal(subsetOf('b'), 'v2');
    next = registry.nextChange();
    writeFileSync(join(dir, 'b.yml'), vsYaml('b', 'v3'));
    await next;
    assert.equal(subsetOf('b'), 'v3');
    next = registry.nextChange();
    unlinkSync(join(dir, 'b.yml'));
    await next;
    assert.equal(subsetOf('b'), undefined);
  });

  it('keeps the last valid version of an invalid object and counts it', async () => {
    const next = registry.nextChange();
    writeFileSync(join(dir, 'a.yaml'), vsYaml('a', 'BAD_SUBSET') + '---\n' + vsYaml('c', 'v1'));
    await next; // c is added; a stays as it was
    assert.equal(subsetOf('a'), 'v1');
    assert.equal(subsetOf('c'), 'v1');
    const m = await metrics.registry.getSingleMetricAsString('meshpilot_invalid_objects_total');
    assert.match(m, /kind="VirtualService",source="file"\} 1/);
  });

  it('a file that does not parse changes nothing', async () => {
    const version = registry.version;
    writeFileSync(join(dir, 'a.yaml'), 'kind: [broken\n');
    await assert.rejects(registry.nextChange(600));
    assert.equal(registry.version, version);
    assert.equal(subsetOf('a'), 'v1');
    assert.equal(subsetOf('c'), 'v1');
  });
});
