/**
 * `meshpilot proxy-init` in a real pod namespace: what the app sends lands on the outbound
 * capture port, what the proxy user sends goes out directly, what other pods send lands on the
 * inbound capture port, excluded ports/CIDRs bypass capture, and --cleanup / --dry-run behave.
 * The "proxy" here is a tag server run as uid 1337 that answers with where a connection landed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { listNetns, PodNetwork } from '../../helpers/pod-network.js';
import { startTagServer, tcpRead, type RunningApp } from './apps.js';

const MAIN = resolve('dist/src/cli/main.js');
const PROXY_UID = 1337;

describe('meshpilot proxy-init', () => {
  let net: PodNetwork;
  const apps: RunningApp[] = [];
  let appIp = '';
  let peerIp = '';
  let vip = '';

  const proxyInit = async (...args: string[]) => {
    const r = await net.exec('app', process.execPath, [MAIN, 'proxy-init', ...args]);
    assert.equal(r.code, 0, `proxy-init ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const natRules = async () => {
    const r = await net.exec('app', 'iptables-save', ['-t', 'nat']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l.includes('MESHPILOT'));
  };
  /** What answered a connection from `pod` (as `user`) to host:port: the first word of the reply. */
  const landsOn = async (pod: string, host: string, port: number, user?: number) => {
    const reply = await tcpRead(net, pod, host, port, { user });
    return reply.split(' ').slice(0, 2).join(' ').replace(/ .*:(\d+)$/, ' :$1');
  };

  before(async () => {
    net = await PodNetwork.create({ pods: ['app', 'peer'] });
    appIp = net.pod('app').ip;
    peerIp = net.pod('peer').ip;
    vip = net.serviceIp(10);
    apps.push(await startTagServer(net, 'peer', { tag: 'peer', ports: [9000, 9001] }));
    apps.push(await startTagServer(net, 'app', { tag: 'app', ports: [8080, 8081, 15021] }));
    apps.push(await startTagServer(net, 'app', { tag: 'outbound-capture', ports: [15001], user: PROXY_UID }));
    apps.push(await startTagServer(net, 'app', { tag: 'inbound-capture', ports: [15006], user: PROXY_UID }));
  });
  after(async () => {
    for (const a of apps) await a.stop();
    await net?.teardown();
  });

  test('--dry-run prints the rules and changes nothing', async () => {
    const out = await proxyInit('--dry-run');
    assert.match(out, /^\*nat$/m);
    assert.match(out, /^-A MESHPILOT_REDIRECT -p tcp -j REDIRECT --to-ports 15001$/m);
    assert.match(out, /^-A MESHPILOT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006$/m);
    assert.match(out, /^-A MESHPILOT_OUTPUT -m owner --uid-owner 1337 -j RETURN$/m);
    const cmds = await proxyInit('--dry-run', '--format', 'commands');
    assert.match(cmds, /^iptables -t nat -A OUTPUT -p tcp -j MESHPILOT_OUTPUT$/m);
    assert.deepEqual(await natRules(), []);
    assert.equal(await landsOn('app', peerIp, 9000), 'peer :9000');
    assert.equal(await landsOn('peer', appIp, 8080), 'app :8080');
  });

  test('installed: app traffic is captured on 15001, the proxy user and loopback are not', async () => {
    const out = await proxyInit();
    assert.match(out, /installed \d+ nat rules/);
    // The app (root) calling another pod, or a Service VIP nobody owns, lands on the outbound port.
    assert.equal(await landsOn('app', peerIp, 9000), 'outbound-capture :15001');
    assert.equal(await landsOn('app', vip, 80), 'outbound-capture :15001');
    // The proxy's own traffic (uid 1337, or any uid with gid 1337) reaches the real destination.
    assert.equal(await landsOn('app', peerIp, 9000, PROXY_UID), 'peer :9000');
    const gidOnly = await tcpRead(net, 'app', peerIp, 9000, { user: 4242 });
    assert.equal(gidOnly.split(' ')[0], 'outbound-capture', 'a uid/gid 4242 process is captured');
    const viaGid = await tcpRead(net, 'app', peerIp, 9000, { user: 4242, group: PROXY_UID });
    assert.equal(viaGid.split(' ')[0], 'peer', 'gid 1337 bypasses capture');
    // Loopback: 127.0.0.1 is never captured; the app calling its own pod IP goes straight to itself.
    assert.equal(await landsOn('app', '127.0.0.1', 8080), 'app :8080');
    assert.equal(await landsOn('app', appIp, 8080), 'app :8080');
    // The proxy calling its own pod IP is treated as inbound.
    assert.equal(await landsOn('app', appIp, 8080, PROXY_UID), 'inbound-capture :15006');
  });

  test('installed: other pods reaching the app land on 15006, excluded inbound ports do not', async () => {
    assert.equal(await landsOn('peer', appIp, 8080), 'inbound-capture :15006');
    assert.equal(await landsOn('peer', appIp, 8081), 'inbound-capture :15006');
    assert.equal(await landsOn('peer', appIp, 15021), 'app :15021');
    // The peer has no capture: its own traffic is untouched.
    assert.equal(await landsOn('peer', peerIp, 9001), 'peer :9001');
  });

  test('installing again replaces the rules instead of stacking them', async () => {
    const first = await natRules();
    await proxyInit();
    assert.deepEqual(await natRules(), first);
    assert.equal(first.filter((l) => l === '-A OUTPUT -p tcp -j MESHPILOT_OUTPUT').length, 1);
  });

  test('include/exclude options: inbound port list, excluded CIDR, included CIDRs and excluded ports', async () => {
    await proxyInit('--inbound-ports', '8081', '--exclude-outbound-cidrs', `${peerIp}/32`);
    assert.equal(await landsOn('peer', appIp, 8080), 'app :8080');
    assert.equal(await landsOn('peer', appIp, 8081), 'inbound-capture :15006');
    assert.equal(await landsOn('app', peerIp, 9000), 'peer :9000');
    assert.equal(await landsOn('app', vip, 80), 'outbound-capture :15001');

    await proxyInit('--include-outbound-cidrs', `${net.serviceCidr},${peerIp}`, '--exclude-outbound-ports', '9000', '--inbound-ports', '');
    assert.equal(await landsOn('app', peerIp, 9000), 'peer :9000');
    assert.equal(await landsOn('app', peerIp, 9001), 'outbound-capture :15001');
    assert.equal(await landsOn('app', vip, 80), 'outbound-capture :15001');
    assert.equal(await landsOn('peer', appIp, 8080), 'app :8080', "--inbound-ports '' disables inbound capture");
  });

  test('--cleanup removes the rules and chains, traffic flows directly again; twice is fine', async () => {
    await proxyInit();
    const plan = await proxyInit('--cleanup', '--dry-run');
    assert.match(plan, /^iptables -t nat -D OUTPUT -p tcp -j MESHPILOT_OUTPUT$/m);
    assert.match(plan, /^iptables -t nat -X MESHPILOT_REDIRECT$/m);
    assert.notDeepEqual(await natRules(), [], 'dry-run cleanup changed nothing');
    assert.match(await proxyInit('--cleanup'), /removed capture/);
    assert.deepEqual(await natRules(), []);
    assert.match(await proxyInit('--cleanup'), /removed capture \(0 iptables commands\)/);
    assert.equal(await landsOn('app', peerIp, 9000), 'peer :9000');
    assert.equal(await landsOn('peer', appIp, 8080), 'app :8080');
    await assert.rejects(tcpRead(net, 'app', vip, 80), /EHOSTUNREACH/);
  });

  test('bad options fail with the option named and change nothing', async () => {
    const r = await net.exec('app', process.execPath, [MAIN, 'proxy-init', '--inbound-ports', '80,http', '--exclude-outbound-cidrs', '10.0.0.0/33']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--inbound-ports\[1\]/);
    assert.match(r.stderr, /--exclude-outbound-cidrs\[0\]/);
    assert.deepEqual(await natRules(), []);
  });

  test('teardown removes every namespace of the run', async () => {
    for (const a of apps.splice(0)) await a.stop();
    await net.teardown();
    assert.deepEqual(listNetns().filter((n) => n.startsWith(net.prefix)), []);
  });
});
