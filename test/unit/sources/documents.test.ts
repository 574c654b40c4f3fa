/** Loading config documents: multi-doc YAML and JSON, Lists, errors with lines, folder walking. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isConfigFile, listConfigFiles, parseDocuments } from '../../../src/sources/documents.js';

const VS = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\n';

describe('parseDocuments', () => {
  const cases: Array<{ name: string; text: string; docs: Array<{ index: number; line: number; name?: unknown }>; errors: Array<{ index?: number; line?: number; message: RegExp }> }> = [
    { name: 'one document', text: VS, docs: [{ index: 0, line: 1, name: 'a' }], errors: [] },
    { name: 'empty file', text: '', docs: [], errors: [] },
    { name: 'only comments and separators', text: '# nothing\n---\n---\n# more\n', docs: [], errors: [] },
    {
      name: 'several documents, empty ones skipped, indexes and lines kept',
      text: `${VS}---\n---\n# comment\n${VS.replace('name: a', 'name: b')}`,
      docs: [{ index: 0, line: 1, name: 'a' }, { index: 2, line: 7, name: 'b' }],
      errors: [],
    },
    { name: 'JSON', text: '{"kind": "Service", "metadata": {"name": "j"}}', docs: [{ index: 0, line: 1, name: 'j' }], errors: [] },
    {
      name: 'List items become documents with their own lines',
      text: 'apiVersion: v1\nkind: List\nitems:\n- kind: Service\n  metadata: {name: s1}\n- kind: Service\n  metadata: {name: s2}\n',
      docs: [{ index: 0, line: 4, name: 's1' }, { index: 0, line: 6, name: 's2' }],
      errors: [],
    },
    { name: 'empty List', text: 'apiVersion: v1\nkind: List\nitems: []\n', docs: [], errors: [] },
    {
      name: 'List item that is not an object',
      text: 'kind: List\nitems:\n- kind: Service\n  metadata: {name: s1}\n- just a string\n',
      docs: [{ index: 0, line: 3, name: 's1' }],
      errors: [{ index: 0, line: 5, message: /items\[1\] is a string, expected an object/ }],
    },
    { name: 'List without a list of items', text: 'kind: List\nitems: {a: 1}\n', docs: [], errors: [{ index: 0, line: 1, message: /"items" to be a list/ }] },
    {
      name: 'syntax error: reported with its line, other documents still load',
      text: `${VS}---\nkind: [unclosed\n---\n${VS.replace('name: a', 'name: c')}`,
      docs: [{ index: 0, line: 1, name: 'a' }, { index: 2, line: 7, name: 'c' }],
      errors: [{ index: 1, message: /^YAML syntax error at line [56]: / }],
    },
    { name: 'bad indentation', text: 'kind: Service\nmetadata:\n  name: x\n   bad: 1\n', docs: [], errors: [{ index: 0, message: /^YAML syntax error at line [34]: / }] },
    { name: 'duplicate keys are an error', text: 'kind: Service\nkind: Pod\n', docs: [], errors: [{ index: 0, line: 2, message: /YAML syntax error at line 2: .*unique/i }] },
    { name: 'a scalar document', text: 'hello\n', docs: [], errors: [{ index: 0, line: 1, message: /document 1 \(line 1\) is a string, expected an object/ }] },
    { name: 'a list document', text: `${VS}---\n- a\n- b\n`, docs: [{ index: 0, line: 1, name: 'a' }], errors: [{ index: 1, line: 5, message: /document 2 \(line 5\) is a list/ }] },
    {
      name: 'alias bombs are refused',
      text: `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`,
      docs: [],
      errors: [{ index: 0, line: 1, message: /alias/i }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { documents, errors } = parseDocuments(c.text, 'f.yaml');
      assert.deepEqual(
        documents.map((d) => ({ index: d.index, line: d.line, name: (d.object as { metadata?: { name?: unknown } }).metadata?.name })),
        c.docs.map((d) => ({ index: d.index, line: d.line, name: d.name })),
      );
      assert.equal(errors.length, c.errors.length, JSON.stringify(errors));
      errors.forEach((e, i) => {
        const want = c.errors[i];
        assert.equal(e.file, 'f.yaml');
        assert.match(e.message, want.message);
        if (want.index !== undefined) assert.equal(e.index, want.index);
        if (want.line !== undefined) assert.equal(e.line, want.line);
        assert.ok(typeof e.line === 'number' && e.line >= 1, 'every error has a line');
      });
      for (const d of documents) assert.equal(d.file, 'f.yaml');
    });
  }

  it('keeps values as YAML 1.2 (strings stay strings, numbers numbers)', () => {
    const { documents } = parseDocuments('kind: X\nmetadata: {name: "007"}\nspec: {a: 1.5, b: "10", c: true}\n', 'f.yaml');
    assert.deepEqual((documents[0].object as { spec: unknown }).spec, { a: 1.5, b: '10', c: true });
    assert.equal((documents[0].object as { metadata: { name: unknown } }).metadata.name, '007');
  });
});

describe('listConfigFiles', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshpilot-docs-'));
    await mkdir(join(dir, 'b', 'nested'), { recursive: true });
    await mkdir(join(dir, '.hidden'));
    await mkdir(join(dir, 'real'));
    for (const f of ['z.yaml', 'a.yml', 'B.json', 'notes.txt', 'b/x.YAML', 'b/nested/y.yaml', '.hidden/h.yaml', '.dot.yaml', 'real/r.yaml']) {
      await writeFile(join(dir, f), 'kind: X\n');
    }
    // ConfigMap volumes look like this: visible names are symlinks.
    await symlink(join(dir, 'real', 'r.yaml'), join(dir, 'link.yaml'));
    await symlink(join(dir, 'real'), join(dir, 'linkdir'));
    await symlink(dir, join(dir, 'b', 'loop'));
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('walks folders recursively, sorted by code unit, config extensions only, dot entries skipped, symlinks followed once', async () => {
    const files = await listConfigFiles([dir]);
    assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), ['B.json', 'a.yml', 'b/nested/y.yaml', 'b/x.YAML', 'link.yaml', 'linkdir/r.yaml', 'z.yaml']);
  });

  it('takes files as given (any extension), in the given order, without duplicates', async () => {
    const files = await listConfigFiles([join(dir, 'z.yaml'), join(dir, 'notes.txt'), join(dir, 'b', 'nested'), join(dir, 'z.yaml')]);
    assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), ['z.yaml', 'notes.txt', 'b/nested/y.yaml']);
  });

  it('throws naming a missing path', async () => {
    await assert.rejects(listConfigFiles([dir, join(dir, 'missing.yaml')]), (err: Error) => err.message === `${join(dir, 'missing.yaml')}: no such file or directory`);
  });

  it('isConfigFile matches the walked extensions', () => {
    assert.deepEqual(['a.yaml', 'a.YML', 'a.json', 'a.txt', 'yaml'].map(isConfigFile), [true, true, true, false, false]);
  });
});
