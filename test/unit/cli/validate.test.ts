/** `meshpilot validate`: the report function, its formats, and the real command's exit codes. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatText, renderValidate, runValidate, type ValidateProblem } from '../../../src/cli/validate.js';

const CLI = 'dist/src/cli/main.js';
const FIX = 'test/fixtures/validate';
function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

/** "FILE:DOC Kind ns/name: path" of each error, to compare whole reports compactly. */
function where(problems: ValidateProblem[], severity: 'error' | 'warning' = 'error'): string[] {
  return problems.filter((p) => p.severity === severity).map((p) => `${p.file.slice(FIX.length + 1)}:${p.document} ${p.kind} ${p.namespace}/${p.name}: ${p.path}`);
}

describe('runValidate', () => {
  const cases: Array<{ file: string; exit: 0 | 1 | 2; errors: string[]; messages?: RegExp[] }> = [
    {
      file: 'invalid.yaml', exit: 1,
      errors: ['invalid.yaml:1 VirtualService default/reviews: spec.http[0].route[0].weigth', 'invalid.yaml:3 Gateway prod/gw: spec.servers[0].tls'],
      messages: [/^unknown field "weigth"$/, /HTTPS must have tls/],
    },
    {
      file: 'semantic.yaml', exit: 1,
      errors: [
        'semantic.yaml:1 VirtualService bookinfo/ratings: spec.http[0].match[0].headers.end-user.regex',
        'semantic.yaml:1 VirtualService bookinfo/ratings: spec.http[0].fault.abort.httpStatus',
        'semantic.yaml:2 DestinationRule bookinfo/reviews: spec.subsets[1].name',
        'semantic.yaml:3 ServiceEntry bookinfo/ext: spec.hosts',
      ],
      messages: [/RE2/, /700/, /duplicate subset/, /host/],
    },
    {
      file: 'types.yaml', exit: 1,
      errors: [
        'types.yaml:1 VirtualService default/faults: spec.http[0].route[0].destination.port.number',
        'types.yaml:1 VirtualService default/faults: spec.http[0].fault.delay.fixedDelay',
        'types.yaml:1 VirtualService default/faults: spec.http[0].fault.delay.percentage.value',
        'types.yaml:2 DestinationRule default/reviews: spec.trafficPolicy.loadBalancer.simple',
        'types.yaml:3 Gateway default/gw: apiVersion',
        'types.yaml:4 Service default/svc: spec.ports[0].port',
      ],
    },
    { file: 'list.json', exit: 1, errors: ['list.json:1 Sidecar bookinfo/bad: spec.egress[0].hosts[0]'] },
    { file: 'nokind.yaml', exit: 1, errors: ['nokind.yaml:1 <no kind> default/x: kind'], messages: [/kind is required/] },
    { file: 'warnings.yaml', exit: 0, errors: [] },
    { file: 'broken.yaml', exit: 2, errors: ['broken.yaml:2  /: '], messages: [/^YAML syntax error at line 7: .*\(in the document starting at line 6\)$/] },
    { file: 'scalar.yaml', exit: 2, errors: ['scalar.yaml:2  /: '], messages: [/document 2 \(line 5\) is a string/] },
  ];
  for (const c of cases) {
    it(`${c.file}: exit ${c.exit}`, async () => {
      const report = await runValidate([`${FIX}/${c.file}`]);
      assert.equal(report.exitCode, c.exit, formatText(report));
      assert.deepEqual(where(report.problems), c.errors);
      c.messages?.forEach((m, i) => assert.match(report.problems.filter((p) => p.severity === 'error')[i].message, m));
    });
  }

  it('Deployments and other kinds are accepted unchecked; counts are right', async () => {
    const report = await runValidate([`${FIX}/invalid.yaml`]);
    assert.deepEqual([report.files, report.objects, report.istioObjects, report.invalidObjects], [1, 3, 2, 2]);
    assert.ok(!report.problems.some((p) => p.kind === 'Deployment'));
  });

  it('warnings: deprecated fields and duplicates in one file, never duplicates across kinds', async () => {
    const report = await runValidate([`${FIX}/warnings.yaml`]);
    assert.deepEqual(where(report.problems, 'warning'), [
      'warnings.yaml:1 DestinationRule default/reviews: spec.trafficPolicy.outlierDetection.consecutiveErrors',
      'warnings.yaml:2 DestinationRule default/reviews: metadata.name',
    ]);
    assert.match(report.problems[1].message, /duplicate: also defined in document 1 of this file/);
    assert.match(formatText(report), /warnings.yaml:1 DestinationRule default\/reviews: spec.trafficPolicy.outlierDetection.consecutiveErrors: warning: consecutiveErrors is deprecated/);
  });

  it('a folder: every file, problems in file then document order, syntax errors exit 2', async () => {
    const report = await runValidate([FIX]);
    assert.equal(report.exitCode, 2);
    const files = report.problems.map((p) => p.file.slice(FIX.length + 1));
    assert.deepEqual([...new Set(files)], ['broken.yaml', 'invalid.yaml', 'list.json', 'nokind.yaml', 'scalar.yaml', 'semantic.yaml', 'types.yaml', 'warnings.yaml']);
    for (let i = 1; i < report.problems.length; i++) {
      const [a, b] = [report.problems[i - 1], report.problems[i]];
      if (a.file === b.file) assert.ok(a.document <= b.document, `${a.file}: ${a.document} then ${b.document}`);
    }
  });

  it('"-" reads the given stdin function once, named <stdin>', async () => {
    let calls = 0;
    const report = await runValidate(['-', `${FIX}/invalid.yaml`], { stdin: async () => { calls++; return 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: x}]}\n'; } });
    assert.equal(calls, 1);
    assert.equal(report.exitCode, 1);
    assert.deepEqual(report.problems.map((p) => `${p.file}:${p.document} ${p.kind}`), ['<stdin>:1 Service', `${FIX}/invalid.yaml:1 VirtualService`, `${FIX}/invalid.yaml:3 Gateway`]);
  });

  it('missing paths, folders without config files and no paths are fatal (exit 2)', async () => {
    const missing = await runValidate(['examples/', 'does/not/exist.yaml']);
    assert.equal(missing.exitCode, 2);
    assert.deepEqual(missing.fatal, ['does/not/exist.yaml: no such file or directory']);
    const dir = await mkdtemp(join(tmpdir(), 'meshpilot-validate-'));
    try {
      await writeFile(join(dir, 'notes.txt'), 'kind: X\n');
      const empty = await runValidate(['src/log.ts', dir]);
      assert.equal(empty.exitCode, 2);
      assert.deepEqual(empty.fatal, [`${dir}: no *.yaml, *.yml or *.json files`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal((await runValidate([])).exitCode, 2);
  });

  it('text: problem lines then the summary; json: the problems array, summary on stderr', async () => {
    const report = await runValidate([`${FIX}/invalid.yaml`]);
    const text = renderValidate(report, 'text');
    assert.deepEqual(text.stdout.trimEnd().split('\n'), [
      `${FIX}/invalid.yaml:1 VirtualService default/reviews: spec.http[0].route[0].weigth: unknown field "weigth"`,
      `${FIX}/invalid.yaml:3 Gateway prod/gw: spec.servers[0].tls: ${report.problems[1].message}`,
      'validated 3 objects (2 Istio) in 1 file: 2 invalid, 0 warnings',
    ]);
    assert.equal(text.stderr, '');
    const json = renderValidate(report, 'json');
    assert.deepEqual(JSON.parse(json.stdout), report.problems);
    assert.equal(json.stderr, 'validated 3 objects (2 Istio) in 1 file: 2 invalid, 0 warnings\n');
  });
});

describe('meshpilot validate (process)', () => {
  it('exits 0 on the examples folder, with no warnings', () => {
    const r = cli('validate', '-f', 'examples/');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^validated \d+ objects \(\d+ Istio\) in \d+ files: 0 invalid, 0 warnings\n$/);
  });

  it('exits 1 with text lines on invalid objects; several -f and positional paths combine', () => {
    const r = cli('validate', '-f', `${FIX}/invalid.yaml`, '-f', `${FIX}/semantic.yaml`, `${FIX}/list.json`);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], `${FIX}/invalid.yaml:1 VirtualService default/reviews: spec.http[0].route[0].weigth: unknown field "weigth"`);
    assert.equal(lines.length, 2 + 4 + 1 + 1);
    assert.equal(lines[lines.length - 1], 'validated 8 objects (7 Istio) in 3 files: 6 invalid, 0 warnings');
  });

  it('prints the JSON array with -o json', () => {
    const r = cli('validate', '-f', `${FIX}/invalid.yaml`, '-o', 'json');
    assert.equal(r.status, 1);
    const problems = JSON.parse(r.stdout) as ValidateProblem[];
    assert.deepEqual(problems[0], {
      file: `${FIX}/invalid.yaml`, document: 1, line: 1, kind: 'VirtualService', namespace: 'default', name: 'reviews',
      path: 'spec.http[0].route[0].weigth', message: 'unknown field "weigth"', severity: 'error',
    });
    assert.deepEqual(problems.map((p) => [p.document, p.line, p.kind]), [[1, 1, 'VirtualService'], [3, 17, 'Gateway']]);
    assert.match(r.stderr, /2 invalid/);
  });

  it('JSON includes YAML syntax errors (exit 2) with their line', () => {
    const r = cli('validate', '-f', `${FIX}/broken.yaml`, '-o', 'json');
    assert.equal(r.status, 2);
    const [p] = JSON.parse(r.stdout) as ValidateProblem[];
    assert.deepEqual([p.document, p.line, p.kind, p.severity], [2, 7, '', 'error']);
    assert.match(p.message, /^YAML syntax error at line 7/);
  });

  it('exits 2 on a missing file, unparsable YAML and bad usage', () => {
    const missing = cli('validate', '-f', 'does/not/exist.yaml');
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr, 'error: does/not/exist.yaml: no such file or directory\n');
    const broken = cli('validate', '-f', `${FIX}/broken.yaml`);
    assert.equal(broken.status, 2);
    assert.match(broken.stdout, /^test\/fixtures\/validate\/broken.yaml:2: YAML syntax error at line 7: /);
    const xml = cli('validate', '-f', 'examples/', '-o', 'xml');
    assert.equal(xml.status, 2);
    assert.match(xml.stderr, /-o xml: expected one of text, json/);
    assert.equal(cli('validate', '--nonsense').status, 2);
    assert.equal(cli('validate').status, 2);
  });

  it('reads standard input with -f -', () => {
    const input = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec: {host: r, subsets: [{name: v1}, {name: v1}]}\n';
    const r = spawnSync(process.execPath, [CLI, 'validate', '-f', '-'], { encoding: 'utf8', input });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^<stdin>:1 DestinationRule default\/r: spec\.subsets\[1\]\.name: duplicate subset name "v1"\n/);
    const ok = spawnSync(process.execPath, [CLI, 'validate', '-f', '-', '-o', 'json'], { encoding: 'utf8', input: 'kind: Service\napiVersion: v1\nmetadata: {name: s}\n' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, '[]\n');
  });

  it('exits 0 on warnings only', () => {
    const r = cli('validate', '-f', `${FIX}/warnings.yaml`);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /0 invalid, 2 warnings/);
  });
});
