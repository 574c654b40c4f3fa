/**
 * The Dockerfile cannot be built here (no Docker daemon), so its promises are checked statically:
 * a pinned Node LTS base, a build stage and a production-only runtime stage, a non-root user, an
 * entrypoint that exists in the compiled output, and COPY sources that exist and are not excluded
 * by .dockerignore.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

interface Instruction { op: string; args: string }

function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => { const m = /^(\S+)\s+(.*)$/.exec(l); assert.ok(m, `Dockerfile line "${l}"`); return { op: m[1].toUpperCase(), args: m[2] }; });
}

const dockerfile = instructions(readFileSync('Dockerfile', 'utf8'));
const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const stages = dockerfile.filter((i) => i.op === 'FROM');
const runtimeStart = dockerfile.indexOf(stages[stages.length - 1]);
const runtime = dockerfile.slice(runtimeStart);

describe('Dockerfile', () => {
  it('builds FROM a Node LTS image pinned to an exact version, in a build and a runtime stage', () => {
    const arg = dockerfile.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    assert.ok(arg, 'ARG NODE_IMAGE');
    assert.match(arg.args, /^NODE_IMAGE=node:(\d+)\.\d+\.\d+-[a-z]+-slim$/);
    const major = Number(/node:(\d+)/.exec(arg.args)![1]);
    assert.equal(major % 2, 0, 'an even (LTS) Node major');
    const engines = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
    assert.ok(major >= Number(/\d+/.exec(engines)![0]), `Node ${major} satisfies engines ${engines}`);
    assert.deepEqual(stages.map((s) => s.args), ['${NODE_IMAGE} AS build', '${NODE_IMAGE} AS runtime']);
  });

  it('installs only production dependencies at runtime, without running the tsc `prepare` script', () => {
    const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args);
    const ci = runs.find((r) => r.includes('npm ci'));
    assert.ok(ci, 'runtime stage runs npm ci');
    assert.match(ci, /--omit=dev/);
    assert.match(ci, /--ignore-scripts/);
    assert.ok(runtime.some((i) => i.op === 'COPY' && i.args.startsWith('--from=build /app/dist/src ')), 'dist/src comes from the build stage');
  });

  it('runs as a non-root user other than the proxy uid 1337', () => {
    const user = runtime.filter((i) => i.op === 'USER').pop();
    assert.ok(user, 'USER in the runtime stage');
    const uid = user.args.split(':')[0];
    assert.match(uid, /^\d+$/, 'numeric uid (so runAsNonRoot can verify it)');
    assert.ok(!['0', '1337'].includes(uid), `uid ${uid}`);
  });

  it('enters `meshpilot serve` through the compiled CLI that the build produces', () => {
    const entry = JSON.parse(dockerfile.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    assert.deepEqual(entry.slice(0, 1), ['node']);
    // Node's own flags (V8 heap sizing) come before the script.
    const flags = entry.slice(1).filter((a) => a.startsWith('--'));
    assert.ok(flags.every((f) => /^--max-semi-space-size=\d+$/.test(f)), `only known node flags: ${flags.join(' ')}`);
    const script = entry[1 + flags.length];
    assert.ok(existsSync(script), `${script} exists after tsc (the runtime stage's WORKDIR is the repo root layout)`);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    assert.equal(script, pkg.bin.meshpilot);
    assert.ok(flags.every((f) => pkg.scripts.start.includes(f)), '`npm start` runs with the same node flags as the image');
    const cmd = JSON.parse(dockerfile.find((i) => i.op === 'CMD')!.args) as string[];
    assert.equal(cmd[0], 'serve');
    assert.ok(cmd.includes('--xds-address=0.0.0.0:15010') && cmd.includes('--admin-address=0.0.0.0:15014'), 'listens beyond loopback inside the container');
  });

  it('copies only paths that exist and that .dockerignore lets through', () => {
    const sources = dockerfile.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    assert.ok(sources.length > 0);
    for (const src of sources) {
      assert.ok(existsSync(src), `COPY source ${src} exists`);
      assert.ok(!ignored.includes(src.replace(/\/$/, '')), `COPY source ${src} is not excluded by .dockerignore`);
    }
    for (const heavy of ['node_modules', 'dist', '.git']) assert.ok(ignored.includes(heavy), `.dockerignore excludes ${heavy}`);
  });
});
