import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildCaptureRules, CAPTURE_CHAINS, DEFAULT_CAPTURE_CONFIG, formatCommandLine, normalizeCidr,
  parseCaptureOptions, planCaptureCleanup, renderIptablesCommands, renderRestoreScript,
  type CaptureConfig, type CaptureOptionInput,
} from '../../../src/proxy/capture.js';

function config(input: CaptureOptionInput = {}): CaptureConfig {
  const r = parseCaptureOptions(input);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

/** Rules as `-A CHAIN args` lines. */
function lines(input: CaptureOptionInput = {}): string[] {
  return buildCaptureRules(config(input)).rules.map((r) => ['-A', r.chain, ...r.args].join(' '));
}

describe('parseCaptureOptions', () => {
  test('defaults match Istio', () => {
    assert.deepEqual(config(), { ...DEFAULT_CAPTURE_CONFIG });
    assert.deepEqual(config().excludeInboundPorts, [15090, 15021, 15020]);
    assert.equal(config().outboundPort, 15001);
    assert.equal(config().inboundPort, 15006);
  });

  const good: Array<[string, CaptureOptionInput, Partial<CaptureConfig>]> = [
    ['uid/gid lists', { proxyUid: '1337, 0', proxyGid: '2000' }, { proxyUids: [1337, 0], proxyGids: [2000] }],
    ['ports', { outboundPort: '16001', inboundPort: '16006' }, { outboundPort: 16001, inboundPort: 16006 }],
    ['inbound wildcard', { inboundPorts: ' * ' }, { inboundPorts: '*' }],
    ['inbound list', { inboundPorts: '9080,80' }, { inboundPorts: [9080, 80] }],
    ['inbound none', { inboundPorts: '' }, { inboundPorts: [] }],
    ['no inbound excludes', { excludeInboundPorts: '' }, { excludeInboundPorts: [] }],
    ['outbound CIDRs, bare IP becomes /32', { includeOutboundCidrs: '10.96.0.0/12,10.1.2.3' }, { includeOutboundCidrs: ['10.96.0.0/12', '10.1.2.3/32'] }],
    ['outbound none', { includeOutboundCidrs: '' }, { includeOutboundCidrs: [] }],
    ['excluded CIDRs and ports', { excludeOutboundCidrs: '169.254.169.254', excludeOutboundPorts: '22,3306' }, { excludeOutboundCidrs: ['169.254.169.254/32'], excludeOutboundPorts: [22, 3306] }],
  ];
  for (const [name, input, want] of good) {
    test(`accepts ${name}`, () => {
      const got = config(input);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof CaptureConfig], v, k);
    });
  }

  const bad: Array<[string, CaptureOptionInput, string[]]> = [
    ['non-numeric uid', { proxyUid: 'istio-proxy' }, ['--proxy-uid[0]']],
    ['empty gid', { proxyGid: '' }, ['--proxy-gid']],
    ['port 0', { outboundPort: '0' }, ['--outbound-port']],
    ['port too big', { inboundPort: '70000' }, ['--inbound-port']],
    ['same capture ports', { outboundPort: '15006' }, ['--inbound-port']],
    ['bad inbound list item', { inboundPorts: '80,http,-1' }, ['--inbound-ports[1]', '--inbound-ports[2]']],
    ['bad CIDR prefix', { includeOutboundCidrs: '10.0.0.0/33' }, ['--include-outbound-cidrs[0]']],
    ['bad CIDR octet', { excludeOutboundCidrs: '10.0.0.0/8,10.0.256.1' }, ['--exclude-outbound-cidrs[1]']],
    ['IPv6 CIDR', { excludeOutboundCidrs: 'fd00::/8' }, ['--exclude-outbound-cidrs[0]']],
    ['bad excluded port', { excludeOutboundPorts: '22x' }, ['--exclude-outbound-ports[0]']],
  ];
  for (const [name, input, paths] of bad) {
    test(`rejects ${name}`, () => {
      const r = parseCaptureOptions(input);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.deepEqual(r.errors.map((e) => e.path), paths);
      for (const e of r.errors) assert.equal(e.severity, 'error');
    });
  }

  test('normalizeCidr', () => {
    const cases: Array<[string, string | undefined]> = [
      ['10.0.0.0/8', '10.0.0.0/8'], ['1.2.3.4', '1.2.3.4/32'], ['0.0.0.0/0', '0.0.0.0/0'],
      ['1.2.3', undefined], ['1.2.3.4/', undefined], ['1.2.3.4/8/8', undefined], ['a.b.c.d', undefined], ['', undefined],
    ];
    for (const [input, want] of cases) assert.equal(normalizeCidr(input), want, input);
  });
});

describe('buildCaptureRules', () => {
  test('default rule set mirrors Istio: chains, order and targets', () => {
    const set = buildCaptureRules(config());
    assert.equal(set.table, 'nat');
    assert.deepEqual(set.chains, ['MESHPILOT_INBOUND', 'MESHPILOT_REDIRECT', 'MESHPILOT_IN_REDIRECT', 'MESHPILOT_OUTPUT']);
    assert.deepEqual(lines(), [
      '-A MESHPILOT_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
      '-A MESHPILOT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
      '-A PREROUTING -p tcp -j MESHPILOT_INBOUND',
      '-A MESHPILOT_INBOUND -p tcp --dport 15020 -j RETURN',
      '-A MESHPILOT_INBOUND -p tcp --dport 15021 -j RETURN',
      '-A MESHPILOT_INBOUND -p tcp --dport 15090 -j RETURN',
      '-A MESHPILOT_INBOUND -p tcp -j MESHPILOT_IN_REDIRECT',
      '-A OUTPUT -p tcp -j MESHPILOT_OUTPUT',
      '-A MESHPILOT_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN',
      '-A MESHPILOT_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1337 -j MESHPILOT_IN_REDIRECT',
      '-A MESHPILOT_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN',
      '-A MESHPILOT_OUTPUT -m owner --uid-owner 1337 -j RETURN',
      '-A MESHPILOT_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --gid-owner 1337 -j MESHPILOT_IN_REDIRECT',
      '-A MESHPILOT_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN',
      '-A MESHPILOT_OUTPUT -m owner --gid-owner 1337 -j RETURN',
      '-A MESHPILOT_OUTPUT -d 127.0.0.1/32 -j RETURN',
      '-A MESHPILOT_OUTPUT -j MESHPILOT_REDIRECT',
    ]);
  });

  // Each case: options, rules that must be present, rules that must be absent.
  const cases: Array<[string, CaptureOptionInput, string[], string[]]> = [
    ['custom capture ports', { outboundPort: '16001', inboundPort: '16006' },
      ['-A MESHPILOT_REDIRECT -p tcp -j REDIRECT --to-ports 16001', '-A MESHPILOT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 16006'],
      ['-A MESHPILOT_REDIRECT -p tcp -j REDIRECT --to-ports 15001']],
    ['explicit inbound ports: only those, sorted, excludes unused', { inboundPorts: '9080,80,80' },
      ['-A MESHPILOT_INBOUND -p tcp --dport 80 -j MESHPILOT_IN_REDIRECT', '-A MESHPILOT_INBOUND -p tcp --dport 9080 -j MESHPILOT_IN_REDIRECT'],
      ['-A MESHPILOT_INBOUND -p tcp -j MESHPILOT_IN_REDIRECT', '-A MESHPILOT_INBOUND -p tcp --dport 15021 -j RETURN']],
    ['no inbound capture: no PREROUTING jump, no proxy-to-self inbound rule', { inboundPorts: '' },
      ['-A MESHPILOT_OUTPUT -m owner --uid-owner 1337 -j RETURN', '-A MESHPILOT_OUTPUT -j MESHPILOT_REDIRECT'],
      ['-A PREROUTING -p tcp -j MESHPILOT_INBOUND', '-A MESHPILOT_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1337 -j MESHPILOT_IN_REDIRECT']],
    ['included CIDRs instead of everything', { includeOutboundCidrs: '10.96.0.0/12,10.244.0.0/16' },
      ['-A MESHPILOT_OUTPUT -d 10.96.0.0/12 -j MESHPILOT_REDIRECT', '-A MESHPILOT_OUTPUT -d 10.244.0.0/16 -j MESHPILOT_REDIRECT'],
      ['-A MESHPILOT_OUTPUT -j MESHPILOT_REDIRECT']],
    ['no outbound capture', { includeOutboundCidrs: '', excludeOutboundCidrs: '10.0.0.0/8' },
      ['-A OUTPUT -p tcp -j MESHPILOT_OUTPUT', '-A MESHPILOT_OUTPUT -m owner --uid-owner 1337 -j RETURN'],
      ['-A MESHPILOT_OUTPUT -j MESHPILOT_REDIRECT', '-A MESHPILOT_OUTPUT -d 10.0.0.0/8 -j RETURN']],
    ['excluded outbound ports', { excludeOutboundPorts: '3306,22' },
      ['-A MESHPILOT_OUTPUT -p tcp --dport 22 -j RETURN', '-A MESHPILOT_OUTPUT -p tcp --dport 3306 -j RETURN'], []],
    ['several proxy uids', { proxyUid: '1337,1338' },
      ['-A MESHPILOT_OUTPUT -m owner --uid-owner 1337 -j RETURN', '-A MESHPILOT_OUTPUT -m owner --uid-owner 1338 -j RETURN'], []],
  ];
  for (const [name, input, present, absent] of cases) {
    test(name, () => {
      const got = lines(input);
      for (const l of present) assert.ok(got.includes(l), `missing ${l}\n${got.join('\n')}`);
      for (const l of absent) assert.ok(!got.includes(l), `unexpected ${l}`);
    });
  }

  test('order inside MESHPILOT_OUTPUT: port excludes, 127.0.0.6, owners, 127.0.0.1, CIDR excludes, redirect', () => {
    const out = lines({ excludeOutboundPorts: '22', excludeOutboundCidrs: '10.9.0.0/16' }).filter((l) => l.startsWith('-A MESHPILOT_OUTPUT'));
    const at = (needle: string) => out.findIndex((l) => l.includes(needle));
    const order = [at('--dport 22'), at('127.0.0.6'), at('--uid-owner'), at('--gid-owner'), at('-d 127.0.0.1/32 -j RETURN'), at('10.9.0.0/16'), at('-j MESHPILOT_REDIRECT')];
    assert.ok(order.every((i) => i >= 0), JSON.stringify(order));
    assert.deepEqual([...order].sort((a, b) => a - b), order);
  });

  test('deterministic output for equal inputs', () => {
    const a = renderRestoreScript(buildCaptureRules(config({ inboundPorts: '80,9080', excludeOutboundPorts: '22,21' })));
    const b = renderRestoreScript(buildCaptureRules(config({ inboundPorts: '9080,80', excludeOutboundPorts: '21,22' })));
    assert.equal(a, b);
  });
});

describe('rendering', () => {
  test('iptables-restore script declares chains, appends rules, commits', () => {
    const script = renderRestoreScript(buildCaptureRules(config()));
    const ls = script.trimEnd().split('\n');
    assert.equal(ls[0], '*nat');
    assert.deepEqual(ls.slice(1, 5), CAPTURE_CHAINS.map((c) => `:${c} - [0:0]`));
    assert.equal(ls.at(-1), 'COMMIT');
    assert.equal(ls.filter((l) => l.startsWith('-A ')).length, buildCaptureRules(config()).rules.length);
    assert.ok(script.endsWith('\n'));
  });

  test('iptables commands create chains first, then append', () => {
    const cmds = renderIptablesCommands(buildCaptureRules(config()));
    assert.deepEqual(cmds[0], ['-t', 'nat', '-N', 'MESHPILOT_INBOUND']);
    assert.deepEqual(cmds.slice(0, 4).map((c) => c[2]), ['-N', '-N', '-N', '-N']);
    assert.ok(cmds.slice(4).every((c) => c[2] === '-A'));
  });

  test('formatCommandLine quotes only what needs it', () => {
    assert.equal(formatCommandLine('iptables', ['-t', 'nat', '-A', 'X', '!', '-d', '127.0.0.1/32']), 'iptables -t nat -A X ! -d 127.0.0.1/32');
    assert.equal(formatCommandLine('echo', ["it's", 'a b']), `echo 'it'\\''s' 'a b'`);
  });
});

describe('planCaptureCleanup', () => {
  const installed = `# Generated by iptables-save v1.8.9 (nf_tables)
*filter
:INPUT ACCEPT [0:0]
-A INPUT -j MESHPILOT_OUTPUT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:MESHPILOT_INBOUND - [0:0]
:MESHPILOT_OUTPUT - [0:0]
:MESHPILOT_REDIRECT - [0:0]
:MESHPILOT_IN_REDIRECT - [0:0]
:OTHER - [0:0]
-A PREROUTING -p tcp -j MESHPILOT_INBOUND
-A PREROUTING -p udp -j OTHER
-A OUTPUT -p tcp -m comment --comment "a \\"quoted\\" note" -j MESHPILOT_OUTPUT
-A OUTPUT -p tcp -j MESHPILOT_OUTPUT
-A MESHPILOT_OUTPUT -j MESHPILOT_REDIRECT
-A MESHPILOT_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
`;

  test('deletes jumps from other chains, then flushes and deletes our chains', () => {
    assert.deepEqual(planCaptureCleanup(installed), [
      ['-t', 'nat', '-D', 'PREROUTING', '-p', 'tcp', '-j', 'MESHPILOT_INBOUND'],
      ['-t', 'nat', '-D', 'OUTPUT', '-p', 'tcp', '-m', 'comment', '--comment', 'a "quoted" note', '-j', 'MESHPILOT_OUTPUT'],
      ['-t', 'nat', '-D', 'OUTPUT', '-p', 'tcp', '-j', 'MESHPILOT_OUTPUT'],
      ['-t', 'nat', '-F', 'MESHPILOT_INBOUND'],
      ['-t', 'nat', '-F', 'MESHPILOT_REDIRECT'],
      ['-t', 'nat', '-F', 'MESHPILOT_IN_REDIRECT'],
      ['-t', 'nat', '-F', 'MESHPILOT_OUTPUT'],
      ['-t', 'nat', '-X', 'MESHPILOT_INBOUND'],
      ['-t', 'nat', '-X', 'MESHPILOT_REDIRECT'],
      ['-t', 'nat', '-X', 'MESHPILOT_IN_REDIRECT'],
      ['-t', 'nat', '-X', 'MESHPILOT_OUTPUT'],
    ]);
  });

  test('nothing installed: empty plan (idempotent cleanup)', () => {
    const clean = '*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p tcp -j OTHER\nCOMMIT\n';
    assert.deepEqual(planCaptureCleanup(clean), []);
    assert.deepEqual(planCaptureCleanup(''), []);
  });

  test('partial installation: only the chains that exist', () => {
    assert.deepEqual(planCaptureCleanup('*nat\n:MESHPILOT_REDIRECT - [0:0]\nCOMMIT\n'), [
      ['-t', 'nat', '-F', 'MESHPILOT_REDIRECT'], ['-t', 'nat', '-X', 'MESHPILOT_REDIRECT'],
    ]);
  });
});
