#!/usr/bin/env node
// Runs the compiled test files with Node's built-in test runner.
// Usage: node scripts/run-tests.mjs [unit|e2e]   (default: all)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const which = process.argv[2];
const roots = which ? [join('dist/test', which)] : ['dist/test/unit', 'dist/test/e2e'];
const files = [];
function walk(dir) {
  let entries;
  try { entries = readdirSync(dir); } catch { return; }
  for (const name of entries.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
}
roots.forEach(walk);
if (files.length === 0) {
  console.error('no test files found under', roots.join(', '));
  process.exit(1);
}
// End-to-end tests need a real Envoy: install it once (idempotent, cached outside the clone) and
// hand its path to every test process.
if (roots.some((r) => r.includes('e2e')) && !process.env.MESHPILOT_ENVOY) {
  const inst = spawnSync(process.execPath, ['scripts/install-envoy.mjs'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (inst.status !== 0) {
    console.error('installing Envoy failed (scripts/install-envoy.mjs)');
    process.exit(1);
  }
  process.env.MESHPILOT_ENVOY = inst.stdout.trim().split('\n').pop();
  console.error(`using Envoy at ${process.env.MESHPILOT_ENVOY}`);
}
// The Kubernetes tests need a real control plane built from the Go module proxy (cached outside the
// clone, about 5 min cold): build it once here rather than in several test processes at once.
if (roots.some((r) => r.includes('e2e')) && !process.env.MESHPILOT_KUBE_BIN) {
  const kube = spawnSync('bash', ['scripts/kube/build.sh'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (kube.status !== 0) {
    console.error('building the test Kubernetes control plane failed (scripts/kube/build.sh)');
    process.exit(1);
  }
  process.env.MESHPILOT_KUBE_BIN = kube.stdout.trim().split('\n').pop();
}
const concurrency = process.env.MESHPILOT_TEST_CONCURRENCY ?? '2';
// Not --test-force-exit: with Node 20 it ended some files before all their suites ran (two unit
// suites went missing from the count). Cleanup that cannot leave handles open is the tests' job.
const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
