/** `meshpilot serve` as users run it: admin endpoints, debug views, clean SIGTERM; and `meshpilot demo --check`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { eventually, GATEWAY_LABELS, GATEWAY_NODE } from '../gateway/fixture.js';

describe('meshpilot serve on examples/demo', () => {
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess | undefined;
  before(async () => { mp = await startMeshpilot({ configDir: 'examples/demo' }); });
  after(async () => { await envoy?.stop(); await mp?.stop(); });

  it('answers /healthz and /ready, and exposes Prometheus metrics', async () => {
    assert.equal((await mp.getText('/healthz')).status, 200);
    assert.equal((await mp.getText('/ready')).status, 200);
    const m = await mp.getText('/metrics');
    assert.match(m.body, /# TYPE meshpilot_xds_connected_proxies gauge/);
    assert.match(m.body, /meshpilot_xds_push_seconds_bucket/);
  });

  it('shows the registry in /debug/configz and a connected proxy in /debug/syncz and /debug/config_dump', async () => {
    const objs = await mp.getJson<Array<{ kind: string; metadata: { name: string } }>>('/debug/configz');
    assert.ok(objs.some((o) => o.kind === 'VirtualService' && o.metadata.name === 'bookinfo'));
    envoy = await startEnvoy({ nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.xdsAddress });
    await eventually(async () => {
      const s = await mp.getJson<Array<{ id: string; types: Record<string, { versionAcked?: string }> }>>('/debug/syncz');
      return s.length === 1 && s[0].id === GATEWAY_NODE && !!s[0].types.routes?.versionAcked;
    }, 'gateway synced');
    const dump = await mp.getJson<{ routes: Array<{ name: string }>; secrets: Array<{ value: { tlsCertificate: { privateKey: { inlineString: string } } } }> }>(`/debug/config_dump?proxyID=${encodeURIComponent(GATEWAY_NODE)}`);
    assert.deepEqual(dump.routes.map((r) => r.name), ['http.8080', 'https.8443.https.bookinfo-gateway.default']);
    assert.equal(dump.secrets[0].value.tlsCertificate.privateKey.inlineString, '[redacted]');
    assert.equal((await mp.getText('/debug/config_dump?proxyID=nobody')).status, 404);
  });

  it('stops cleanly on SIGTERM', async () => {
    await envoy?.stop();
    envoy = undefined;
    const exited = new Promise<number | null>((r) => mp.proc.once('exit', (code) => r(code)));
    mp.proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(mp.events((e) => e.msg === 'meshpilot stopped').length === 1);
  });
});

describe('meshpilot demo --check', () => {
  it('brings up meshpilot, a gateway Envoy and the backends, and the routing is right', () => {
    const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'demo', '--check'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /demo check passed/);
  });
});
