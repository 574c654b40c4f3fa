/**
 * The pod network itself: pods reach each other over the bridge by address and by hostname,
 * Service VIPs are routed, setup is idempotent and teardown leaves nothing behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { listNetns, PodNetwork } from '../../helpers/pod-network.js';
import { httpGetFrom, startHttpServer, startTagServer, tcpRead } from './apps.js';

describe('pod network', () => {
  let net: PodNetwork;
  before(async () => { net = await PodNetwork.create({ pods: ['alpha', 'beta'] }); });
  after(() => net?.teardown());

  test('each pod has its own namespace, address on the pod range and a default route via the bridge', async () => {
    assert.deepEqual(net.existingNetns(), [`${net.prefix}alpha`, `${net.prefix}beta`, net.nodeNetns].sort());
    const a = net.pod('alpha');
    const b = net.pod('beta');
    assert.notEqual(a.ip, b.ip);
    for (const p of [a, b]) {
      assert.ok(p.ip.startsWith(net.podCidr.replace(/0\/24$/, '')), `${p.ip} in ${net.podCidr}`);
      const route = await net.exec(p.name, 'ip', ['route', 'show', 'default']);
      assert.match(route.stdout, new RegExp(`default via ${net.gatewayIp.replace(/\./g, '\\.')} dev eth0`));
      const lo = await net.exec(p.name, 'ip', ['-o', 'link', 'show', 'lo']);
      assert.match(lo.stdout, /UP/);
    }
  });

  test('two pods talk TCP over the bridge, in both directions', async () => {
    const sa = await startTagServer(net, 'alpha', { tag: 'alpha-app', ports: [9000] });
    const sb = await startTagServer(net, 'beta', { tag: 'beta-app', ports: [9000] });
    try {
      const a = net.pod('alpha');
      const b = net.pod('beta');
      assert.equal(await tcpRead(net, 'alpha', b.ip, 9000), `beta-app ${b.ip}:9000 uid=0`);
      assert.equal(await tcpRead(net, 'beta', a.ip, 9000), `alpha-app ${a.ip}:9000 uid=0`);
      // Loopback inside a pod is the pod's own.
      assert.equal(await tcpRead(net, 'alpha', '127.0.0.1', 9000), 'alpha-app 127.0.0.1:9000 uid=0');
      // Nothing listens on 9001: refused, not silently answered by another namespace.
      await assert.rejects(tcpRead(net, 'alpha', b.ip, 9001), /ECONNREFUSED/);
    } finally {
      await sa.stop();
      await sb.stop();
    }
  });

  test('hostnames resolve through the per-namespace hosts file, also for names added later', async () => {
    const srv = await startHttpServer(net, 'beta', 8080);
    try {
      net.addHost('reviews.default.svc.cluster.local', net.pod('beta').ip);
      const r = await httpGetFrom(net, 'alpha', 'http://reviews.default.svc.cluster.local:8080/x');
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { pod: 'beta', path: '/x', host: 'reviews.default.svc.cluster.local:8080' });
      // A pod added after addHost gets the entry too, and its own name.
      await net.addPod('gamma');
      const g = await net.exec('gamma', 'cat', ['/etc/hosts']);
      assert.match(g.stdout, /reviews\.default\.svc\.cluster\.local/);
      assert.match(g.stdout, new RegExp(`^${net.pod('gamma').ip.replace(/\./g, '\\.')} gamma$`, 'm'));
      // The host's own /etc/hosts is untouched by all this.
      assert.ok(existsSync(`/etc/netns/${net.pod('gamma').netns}/hosts`));
    } finally {
      await srv.stop();
    }
  });

  test('Service VIPs are routed out of the pod to the node, which answers unreachable at once', async () => {
    const r = await net.exec('alpha', 'ip', ['route', 'get', net.serviceIp(10)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`via ${net.gatewayIp.replace(/\./g, '\\.')} dev eth0`));
    await assert.rejects(tcpRead(net, 'alpha', net.serviceIp(10), 80), /EHOSTUNREACH/);
    await assert.rejects(tcpRead(net, 'alpha', '192.0.2.1', 80), /ENETUNREACH|EHOSTUNREACH/);
  });

  test('setup and addPod are idempotent', async () => {
    const before = net.pod('alpha');
    await net.setup();
    assert.equal(await net.addPod('alpha'), before);
    assert.equal(net.allPods().length, 3);
    assert.deepEqual(net.existingNetns().length, 4);
  });

  test('a second network with the same run id replaces the leftovers; teardown removes everything', async () => {
    const runId = `${net.runId}z`;
    const first = new PodNetwork({ runId });
    await first.addPod('left');
    // Simulate a crashed run: a new network with the same id must start clean.
    const second = await PodNetwork.create({ runId, pods: ['right'] });
    assert.deepEqual(second.existingNetns(), [`mp-${runId}-node`, `mp-${runId}-right`]);
    await second.teardown();
    await first.teardown();
    assert.deepEqual(listNetns().filter((n) => n.includes(runId)), []);
  });

  test('teardown removes namespaces, processes and /etc/netns folders, and is idempotent', async () => {
    const srv = await startTagServer(net, 'alpha', { tag: 'lingering', ports: [9100] });
    const exited = new Promise<void>((r) => srv.proc.once('exit', () => r()));
    await net.teardown();
    await net.teardown();
    await exited;
    assert.deepEqual(listNetns().filter((n) => n.includes(net.runId)), []);
    const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns') : [];
    assert.deepEqual(etc.filter((n) => n.includes(net.runId)), []);
  });
});
