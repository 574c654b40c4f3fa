/** The file source on real folders with real file watching (chokidar): load, add, change, delete, invalid input, broken files, duplicates. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { createMetrics, type Metrics } from '../../../src/admin/metrics.js';
import { Registry } from '../../../src/registry/store.js';
import { FileSource, type FileSync } from '../../../src/sources/file/file-source.js';

const vsYaml = (name: string, subset: string, ns = 'default') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: ${subset}}
`;
const svcJson = (name: string, port: number) => JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ name: 'http', port }] } });

interface LogLine { level: number; msg: string; [k: string]: unknown }

async function setup(t: TestContext, files: Record<string, string>, opts: { watch?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-fs-'));
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  for (const [rel, text] of Object.entries(files)) write(rel, text);
  const registry = new Registry();
  const metrics: Metrics = createMetrics();
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => { logs.push(JSON.parse(s) as LogLine); } });
  const source = new FileSource({ dir, registry, logger, metrics, settleMs: 20, ...opts });
  t.after(async () => { await source.stop(); rmSync(dir, { recursive: true, force: true }); });
  await source.start();
  const subsetOf = (name: string) => {
    const o = registry.get('VirtualService', 'default', name) as { spec: { http: Array<{ route: Array<{ destination: { subset: string } }> }> } } | undefined;
    return o?.spec.http[0].route[0].destination.subset;
  };
  /** Runs a file operation and waits (bounded) until the source has processed it. */
  const change = async (op: () => void): Promise<FileSync> => {
    const synced = source.nextSync(5000);
    op();
    return synced;
  };
  /** Waits (bounded) for processed file events until the predicate holds: renames come as unlink + add. */
  const until = async (pred: () => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${what}`);
      await source.nextSync(left).catch(() => undefined);
    }
  };
  const invalidCount = async (kind: string) => {
    const m = (await metrics.invalidObjects.get()).values.find((v) => v.labels.kind === kind && v.labels.source === 'file');
    return m?.value ?? 0;
  };
  return { dir, registry, source, logs, write, subsetOf, change, until, invalidCount };
}

describe('FileSource', () => {
  it('loads the folder recursively (YAML, JSON, List), defaults the namespace, ignores other kinds', async (t) => {
    const f = await setup(t, {
      'a.yaml': vsYaml('a', 'v1') + '---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n',
      'nested/deeper/b.yml': vsYaml('b', 'v2'),
      'svc.json': svcJson('web', 80),
      'list.yaml': `apiVersion: v1\nkind: List\nitems:\n- ${svcJson('api', 8080)}\n`,
      'notes.txt': 'not config',
    });
    assert.equal(f.subsetOf('a'), 'v1');
    assert.equal(f.subsetOf('b'), 'v2');
    assert.ok(f.registry.get('Service', 'default', 'web'));
    assert.ok(f.registry.get('Service', 'default', 'api'));
    assert.equal(f.registry.size, 4);
    assert.equal(f.registry.version, 1, 'the initial load is one change');
    assert.ok(f.logs.some((l) => l.msg === 'kind ignored' && l.kind === 'Deployment'));
    assert.deepEqual(f.source.origins().get('VirtualService/default/b'), join('nested', 'deeper', 'b.yml'));
  });

  it('applies an added file, a change and a deletion, one version each', async (t) => {
    const f = await setup(t, { 'a.yaml': vsYaml('a', 'v1') });
    let s = await f.change(() => f.write('b.yml', vsYaml('b', 'v2')));
    assert.deepEqual([s.files, s.changed, f.subsetOf('b')], [['b.yml'], true, 'v2']);
    s = await f.change(() => f.write('b.yml', vsYaml('b', 'v3')));
    assert.deepEqual([s.changed, f.subsetOf('b'), f.registry.version], [true, 'v3', 3]);
    s = await f.change(() => unlinkSync(join(f.dir, 'b.yml')));
    assert.deepEqual([s.changed, f.subsetOf('b'), f.registry.version], [true, undefined, 4]);
    assert.equal(f.subsetOf('a'), 'v1');
  });

  it('diffs a file against what it contributed: removed documents are deleted, unchanged ones untouched', async (t) => {
    const f = await setup(t, { 'multi.yaml': [vsYaml('a', 'v1'), vsYaml('b', 'v1'), vsYaml('c', 'v1')].join('---\n') });
    const changes: string[][] = [];
    f.registry.onChange((c) => changes.push(c.keys));
    await f.change(() => f.write('multi.yaml', [vsYaml('a', 'v1'), vsYaml('c', 'v2')].join('---\n')));
    assert.deepEqual(changes, [['VirtualService/default/b', 'VirtualService/default/c']]);
    assert.deepEqual([f.subsetOf('a'), f.subsetOf('b'), f.subsetOf('c')], ['v1', undefined, 'v2']);
    const touch = await f.change(() => f.write('multi.yaml', [vsYaml('a', 'v1'), vsYaml('c', 'v2')].join('---\n') + '# comment\n'));
    assert.equal(touch.changed, false, 'same objects: no new version');
  });

  it('keeps the last valid version of an invalid object, logs where and why, and counts it', async (t) => {
    const f = await setup(t, { 'a.yaml': vsYaml('a', 'v1') });
    const s = await f.change(() => f.write('a.yaml', vsYaml('a', 'BAD_SUBSET') + '---\n' + vsYaml('c', 'v1')));
    assert.equal(s.changed, true, 'c is added');
    assert.equal(f.subsetOf('a'), 'v1', 'a keeps its last valid version');
    assert.equal(f.subsetOf('c'), 'v1');
    assert.equal(await f.invalidCount('VirtualService'), 1);
    const warn = f.logs.find((l) => l.level === 40 && l.object === 'VirtualService default/a');
    assert.ok(warn, 'a warning names the object');
    assert.equal(warn.file, join(f.dir, 'a.yaml'));
    assert.match(String(warn.path), /^spec\.http\[0\]\.route\[0\]\.destination\.subset/);
    // Fixing it applies the new version; removing it from the file deletes it.
    await f.change(() => f.write('a.yaml', vsYaml('a', 'v9') + '---\n' + vsYaml('c', 'v1')));
    assert.equal(f.subsetOf('a'), 'v9');
    await f.change(() => f.write('a.yaml', vsYaml('c', 'v1')));
    assert.equal(f.subsetOf('a'), undefined);
  });

  it('an invalid object never seen valid stays out', async (t) => {
    const f = await setup(t, { 'bad.yaml': vsYaml('x', 'NOT_A_DNS_LABEL') });
    assert.equal(f.registry.size, 0);
    assert.equal(await f.invalidCount('VirtualService'), 1);
  });

  it('a file that does not parse changes nothing; the fixed file applies', async (t) => {
    const f = await setup(t, { 'a.yaml': vsYaml('a', 'v1') + '---\n' + vsYaml('c', 'v1') });
    const version = f.registry.version;
    const s = await f.change(() => f.write('a.yaml', 'kind: [broken\n'));
    assert.deepEqual([s.files, s.changed, f.registry.version], [['a.yaml'], false, version]);
    assert.deepEqual([f.subsetOf('a'), f.subsetOf('c')], ['v1', 'v1']);
    assert.equal(await f.invalidCount('File'), 1);
    assert.ok(f.logs.some((l) => l.level === 40 && String(l.msg).startsWith('file not applied')));
    await f.change(() => f.write('a.yaml', vsYaml('a', 'v2')));
    assert.deepEqual([f.subsetOf('a'), f.subsetOf('c')], ['v2', undefined]);
  });

  it('the same object in two files: the file whose path sorts last wins, whatever the write order, with a warning', async (t) => {
    const f = await setup(t, { 'z.yaml': vsYaml('dup', 'from-z') });
    await f.change(() => f.write('a.yaml', vsYaml('dup', 'from-a')));
    assert.equal(f.subsetOf('dup'), 'from-z', 'written later, but a.yaml sorts first');
    assert.ok(f.logs.some((l) => l.level === 40 && l.object === 'VirtualService/default/dup' && (l.winner as string) === 'z.yaml'));
    await f.change(() => f.write('a.yaml', vsYaml('dup', 'from-a-2')));
    assert.equal(f.subsetOf('dup'), 'from-z', 'a change to the losing file has no effect');
    await f.change(() => unlinkSync(join(f.dir, 'z.yaml')));
    assert.equal(f.subsetOf('dup'), 'from-a-2', 'the other definition takes over');
    await f.change(() => unlinkSync(join(f.dir, 'a.yaml')));
    assert.equal(f.subsetOf('dup'), undefined);
  });

  it('the same initial folder gives the same registry whatever was defined twice', async (t) => {
    const f = await setup(t, { 'b.yaml': vsYaml('dup', 'from-b'), 'a/x.yaml': vsYaml('dup', 'from-a-x') });
    assert.equal(f.subsetOf('dup'), 'from-b', '"b.yaml" sorts after "a/x.yaml"');
  });

  it('moving an object between files keeps it; deleting a folder deletes its objects', async (t) => {
    const f = await setup(t, { 'sub/one.yaml': vsYaml('m', 'v1'), 'sub/two.yaml': vsYaml('n', 'v1'), 'keep.yaml': vsYaml('k', 'v1') });
    renameSync(join(f.dir, 'sub/one.yaml'), join(f.dir, 'moved.yaml'));
    await f.until(() => f.source.origins().get('VirtualService/default/m') === 'moved.yaml', 'm taken from moved.yaml');
    assert.equal(f.subsetOf('m'), 'v1');
    rmSync(join(f.dir, 'sub'), { recursive: true });
    await f.until(() => f.subsetOf('n') === undefined, 'n deleted with its folder');
    await f.source.whenIdle();
    assert.deepEqual([f.subsetOf('m'), f.subsetOf('n'), f.subsetOf('k')], ['v1', undefined, 'v1']);
  });

  it('watch: false loads once and does not follow changes', async (t) => {
    const f = await setup(t, { 'a.yaml': vsYaml('a', 'v1') }, { watch: false });
    assert.equal(f.subsetOf('a'), 'v1');
    f.write('a.yaml', vsYaml('a', 'v2'));
    await assert.rejects(f.source.nextSync(300), /no file change processed/);
    assert.equal(f.subsetOf('a'), 'v1');
  });

  it('start() rejects for a missing folder', async () => {
    const source = new FileSource({ dir: join(tmpdir(), 'meshpilot-does-not-exist-' + process.pid), registry: new Registry(), logger: pino({ level: 'silent' }), metrics: createMetrics(), watch: false });
    await assert.rejects(source.start());
  });
});
