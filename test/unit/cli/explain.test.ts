/** `meshpilot explain` as users run it: text and JSON on the demo config, and clear usage errors. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { Explanation } from '../../../src/explain/http.js';

const CLI = 'dist/src/cli/main.js';
const GW = ['--node-id', 'router~127.0.0.1~gw.istio-system~istio-system.svc.cluster.local', '--label', 'istio=ingressgateway'];
function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('meshpilot explain', () => {
  it('text: each step and why, request headers given with -H after the URL', () => {
    const r = cli('explain', '--config-dir', 'examples/demo', ...GW, 'GET', 'http://bookinfo.example.com:8080/reviews', '-H', 'end-user: jason');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /listener\s+0\.0\.0\.0_8080/);
    assert.match(r.stdout, /route configuration\s+http\.8080/);
    assert.match(r.stdout, /route\s+#0 "jason"/);
    assert.match(r.stdout, /from\s+VirtualService default\/bookinfo/);
    assert.match(r.stdout, /cluster\s+outbound\|9080\|v2\|reviews\.default\.svc\.cluster\.local 100%/);
    assert.match(r.stdout, /why:\n/);
  });
  it('-o json: the split with both clusters and the routes tried first', () => {
    const r = cli('explain', '--config-dir', 'examples/demo', ...GW, '-o', 'json', 'http://ratings.example.com:8080/other');
    assert.equal(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout) as Explanation;
    assert.equal(e.virtualService, 'VirtualService default/ratings-split');
    assert.equal(e.rejectedRoutes.length, 1);
    assert.equal(e.outcome.kind, 'route');
    if (e.outcome.kind === 'route') assert.deepEqual(e.outcome.clusters.map((c) => c.percent), [80, 20]);
  });
  it('https: the TLS filter chain is chosen by SNI; an unknown SNI has no chain', () => {
    const ok = cli('explain', '--config-dir', 'examples/demo', ...GW, '-o', 'json', 'https://bookinfo.example.com:8443/');
    assert.equal(ok.status, 0, ok.stderr);
    const e = JSON.parse(ok.stdout) as Explanation;
    assert.equal(e.routeConfiguration, 'https.8443.https.bookinfo-gateway.default');
    assert.match(e.listener?.reason ?? '', /SNI "bookinfo\.example\.com" matches server names/);
    const none = JSON.parse(cli('explain', '--config-dir', 'examples/demo', ...GW, '-o', 'json', 'https://other.example.com:8443/').stdout) as Explanation;
    assert.equal(none.outcome.kind, 'refused');
    assert.equal(none.listener, undefined);
  });
  it('usage errors exit 2 and say what is wrong', () => {
    const both = cli('explain', ...GW, 'http://x/');
    assert.equal(both.status, 2);
    assert.match(both.stderr, /exactly one of --config-dir DIR or --server ADDR/);
    const bad = cli('explain', '--config-dir', 'examples/demo', ...GW, 'ftp://x/');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /scheme must be http or https/);
    const node = cli('explain', '--config-dir', 'examples/demo', '--node-id', 'nonsense', 'http://x/');
    assert.equal(node.status, 2);
    assert.match(node.stderr, /node id "nonsense"/);
  });
  it('--server that does not answer: exit 2 naming the address', () => {
    const r = cli('explain', '--server', '127.0.0.1:1', ...GW, 'http://x/');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /127\.0\.0\.1:1\/debug\/config_dump/);
  });
});
