/** `meshpilot diff` on copies of the example folders. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ProxyDiff } from '../../../src/cli/diff.js';

const CLI = 'dist/src/cli/main.js';
function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('meshpilot diff', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'meshpilot-diff-'));
  const from = join(tmp, 'from');
  const to = join(tmp, 'to');
  cpSync('examples/demo', from, { recursive: true });
  cpSync('examples/demo', to, { recursive: true });
  // The ratings split moves from 80/20 to 50/50: only the gateway's route configuration changes.
  const routing = readFileSync(join(to, 'routing.yaml'), 'utf8');
  writeFileSync(join(to, 'routing.yaml'), routing.replace('weight: 80', 'weight: 50').replace('weight: 20', 'weight: 50'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('same folders: nothing changes', () => {
    const r = cli('diff', '--from', from, '--to', from, '--exit-code');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^0 of \d+ proxies would change/m);
  });

  it('a weight change: the gateway route http.8080 changes, field by field; sidecars do not', () => {
    const r = cli('diff', '--from', from, '--to', to, '-o', 'json');
    assert.equal(r.status, 0, r.stderr);
    const { proxies } = JSON.parse(r.stdout) as { proxies: ProxyDiff[] };
    const changed = proxies.filter((p) => p.changed);
    assert.deepEqual(changed.map((p) => p.type), ['router']);
    assert.ok(proxies.some((p) => p.type === 'sidecar' && !p.changed), 'default proxies include sidecars');
    const t = changed[0].types;
    assert.deepEqual(Object.keys(t), ['routes']);
    assert.deepEqual(t.routes!.changed.map((c) => c.name), ['http.8080']);
    const weights = t.routes!.changed[0].changes.filter((c) => c.path.endsWith('weight.value')).map((c) => [c.from, c.to]);
    assert.deepEqual(weights, [[80, 50], [20, 50]]);
  });

  it('text output names the proxy and the resource; --exit-code exits 1 on changes', () => {
    const r = cli('diff', '--from', from, '--to', to, '--exit-code');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^router~.*\(gateway, istio=ingressgateway\)$/m);
    assert.match(r.stdout, /routes: ~ http\.8080/);
    assert.match(r.stdout, /weight\.value: 80 -> 50/);
  });

  it('--node-id limits the proxies; a removed Service removes its clusters for that sidecar', () => {
    const noServices = join(tmp, 'no-services');
    cpSync(from, noServices, { recursive: true });
    rmSync(join(noServices, 'services.yaml'));
    const node = 'sidecar~10.9.9.9~client.default~default.svc.cluster.local';
    const r = cli('diff', '--from', from, '--to', noServices, '--node-id', node, '-o', 'json');
    assert.equal(r.status, 0, r.stderr);
    const { proxies } = JSON.parse(r.stdout) as { proxies: ProxyDiff[] };
    assert.deepEqual(proxies.map((p) => p.id), [node]);
    assert.ok(proxies[0].types.clusters!.removed.includes('outbound|9080||reviews.default.svc.cluster.local'), JSON.stringify(proxies[0].types.clusters));
    assert.deepEqual(proxies[0].types.clusters!.added, []);
  });

  it('a folder that does not exist: exit 2', () => {
    const r = cli('diff', '--from', join(tmp, 'nope'), '--to', to);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /nope/);
  });
});
