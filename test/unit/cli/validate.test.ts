/** `meshpilot validate`: the report function and the real command's exit codes and output formats. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { formatText, runValidate } from '../../../src/cli/validate.js';

const CLI = 'dist/src/cli/main.js';
function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('meshpilot validate', () => {
  it('exits 0 on the examples folder', () => {
    const r = cli('validate', '-f', 'examples/');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /0 invalid/);
  });

  it('reports each invalid object with file, document, kind, name, path and message (text), exit 1', () => {
    const r = cli('validate', '-f', 'test/fixtures/validate/invalid.yaml');
    assert.equal(r.status, 1);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.includes('test/fixtures/validate/invalid.yaml:1 VirtualService default/reviews: spec.http[0].route[0].weigth: unknown field "weigth"'), r.stdout);
    assert.ok(lines.some((l) => l.startsWith('test/fixtures/validate/invalid.yaml:3 Gateway prod/gw: spec.servers[0].tls: ')), r.stdout);
    assert.ok(!lines.some((l) => l.includes('Deployment')), 'other kinds are only checked for well-formedness');
    assert.match(lines[lines.length - 1], /3 objects \(2 Istio\) in 1 files: 2 invalid/);
  });

  it('prints JSON problems with -o json', () => {
    const r = cli('validate', '-f', 'test/fixtures/validate/invalid.yaml', '-o', 'json');
    assert.equal(r.status, 1);
    const problems = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(problems[0], {
      file: 'test/fixtures/validate/invalid.yaml', document: 1, kind: 'VirtualService', namespace: 'default', name: 'reviews',
      path: 'spec.http[0].route[0].weigth', message: 'unknown field "weigth"', severity: 'error',
    });
    assert.equal(problems.length, 2);
  });

  it('exits 2 on a missing file, unparsable YAML (with its line) and bad usage', () => {
    const missing = cli('validate', '-f', 'does/not/exist.yaml');
    assert.equal(missing.status, 2);
    assert.match(missing.stdout + missing.stderr, /does\/not\/exist.yaml: no such file/);
    const broken = cli('validate', '-f', 'test/fixtures/validate/broken.yaml');
    assert.equal(broken.status, 2);
    assert.match(broken.stdout, /broken.yaml:(\d+): YAML syntax error at line \1/);
    assert.equal(cli('validate', '-f', 'examples/', '-o', 'xml').status, 2);
    assert.equal(cli('validate', '--nonsense').status, 2);
    assert.equal(cli('validate').status, 2);
  });

  it('a document without kind is an error', async () => {
    const report = await runValidate(['test/fixtures/validate/nokind.yaml']);
    assert.equal(report.exitCode, 1);
    assert.equal(report.problems[0].path, 'kind');
    assert.match(formatText(report), /nokind.yaml:1 <no kind> default\/x: kind: kind is required/);
  });
});
