/** `meshpilot bootstrap` output is a bootstrap the real Envoy accepts (`envoy --mode validate`). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { envoyBinary } from '../../helpers/envoy.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const NODE = 'router~127.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local';

function meshpilot(args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000 });
}

function validate(file: string) {
  return spawnSync(envoyBinary(), ['--mode', 'validate', '-c', file, '-l', 'error', '--disable-hot-restart', '--concurrency', '1'], { encoding: 'utf8', timeout: 60_000 });
}

describe('meshpilot bootstrap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-bootstrap-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [what, xds] of [['TCP', '127.0.0.1:15010'], ['unix socket', 'unix:///var/run/meshpilot/xds.sock']] as const) {
    it(`writes a bootstrap Envoy validates (${what})`, () => {
      const file = join(dir, `${what.replace(' ', '-')}.json`);
      const r = meshpilot(['bootstrap', '--node-id', NODE, '--label', 'istio=ingressgateway', '--label', 'app=gw', '--xds-address', xds, '--admin-address', '127.0.0.1:19001', '-o', file]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '');
      const b = JSON.parse(readFileSync(file, 'utf8')) as { node: { id: string; metadata: { LABELS: Record<string, string>; NAMESPACE: string } } };
      assert.deepEqual([b.node.id, b.node.metadata.LABELS, b.node.metadata.NAMESPACE], [NODE, { istio: 'ingressgateway', app: 'gw' }, 'istio-system']);
      const v = validate(file);
      assert.equal(v.status, 0, `envoy --mode validate: ${v.stdout}${v.stderr}`);
    });
  }

  it('prints to stdout without -o', () => {
    const r = meshpilot(['bootstrap', '--node-id', NODE]);
    assert.equal(r.status, 0, r.stderr);
    const b = JSON.parse(r.stdout) as { static_resources: { clusters: Array<{ load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: unknown } }> }> } }> } };
    assert.deepEqual(b.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address, { socket_address: { address: '127.0.0.1', port_value: 15010 } });
  });

  it('refuses an invalid node id, naming it', () => {
    const r = meshpilot(['bootstrap', '--node-id', 'gateway~x']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /node id "gateway~x"/);
  });
});
