#!/usr/bin/env node
// Regenerates the translator golden files test/golden/<feature>.out.yaml from <feature>.in.yaml and
// deletes .out.yaml files whose input is gone. Run after a build (npm run build); review the diff
// (git diff test/golden) like code before committing.
// Usage: node scripts/update-golden.mjs
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const test = 'dist/test/unit/translator/golden.test.js';
if (!existsSync(test)) {
  console.error(`${test} not found: build first (npm run build)`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', test], {
  stdio: 'inherit',
  env: { ...process.env, MESHPILOT_UPDATE_GOLDEN: '1' },
});
process.exit(r.status ?? 1);
