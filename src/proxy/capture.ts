/**
 * Transparent traffic capture for a sidecar, the way Istio's init container sets it up: pure
 * builders for the nat-table rules that `meshpilot proxy-init` installs and removes. No I/O here;
 * the CLI runs the result through iptables-restore / iptables.
 *
 * Chain layout (mirrors ISTIO_INBOUND / ISTIO_IN_REDIRECT / ISTIO_OUTPUT / ISTIO_REDIRECT):
 *   PREROUTING -p tcp → MESHPILOT_INBOUND → (excluded ports RETURN) → MESHPILOT_IN_REDIRECT → REDIRECT :15006
 *   OUTPUT     -p tcp → MESHPILOT_OUTPUT  → (proxy uid/gid, loopback, excluded CIDRs/ports RETURN)
 *                                         → MESHPILOT_REDIRECT → REDIRECT :15001
 * IPv4 only.
 */
import type { ValidationIssue, ValidationResult } from '../api/result.js';

export const CHAIN_INBOUND = 'MESHPILOT_INBOUND';
export const CHAIN_IN_REDIRECT = 'MESHPILOT_IN_REDIRECT';
export const CHAIN_OUTPUT = 'MESHPILOT_OUTPUT';
export const CHAIN_REDIRECT = 'MESHPILOT_REDIRECT';
/** Every chain proxy-init owns, in the order they are declared. */
export const CAPTURE_CHAINS: readonly string[] = [CHAIN_INBOUND, CHAIN_REDIRECT, CHAIN_IN_REDIRECT, CHAIN_OUTPUT];

/** Source address Envoy uses for inbound passthrough to the app over loopback (as in Istio). */
export const INBOUND_PASSTHROUGH_SOURCE = '127.0.0.6/32';

export interface CaptureConfig {
  /** uids whose traffic is never captured (the proxy's own). */
  proxyUids: number[];
  /** gids whose traffic is never captured. */
  proxyGids: number[];
  /** Port of the outbound virtual listener (Envoy's virtualOutbound). */
  outboundPort: number;
  /** Port of the inbound virtual listener (Envoy's virtualInbound). */
  inboundPort: number;
  /** Inbound ports to capture: '*' for all (minus excludes), a list, or [] for no inbound capture. */
  inboundPorts: '*' | number[];
  /** Inbound ports never captured; only meaningful with inboundPorts '*'. */
  excludeInboundPorts: number[];
  /** Outbound destinations to capture: '*' for all, a CIDR list, or [] for no outbound capture. */
  includeOutboundCidrs: '*' | string[];
  excludeOutboundCidrs: string[];
  excludeOutboundPorts: number[];
}

export const DEFAULT_CAPTURE_CONFIG: Readonly<CaptureConfig> = Object.freeze({
  proxyUids: [1337],
  proxyGids: [1337],
  outboundPort: 15001,
  inboundPort: 15006,
  inboundPorts: '*',
  // Envoy's Prometheus port, health port and the agent's merged-metrics port stay direct.
  excludeInboundPorts: [15090, 15021, 15020],
  includeOutboundCidrs: '*',
  excludeOutboundCidrs: [],
  excludeOutboundPorts: [],
});

/** One rule: appended (`-A`) to `chain` of the nat table with the match/target arguments `args`. */
export interface NatRule {
  chain: string;
  args: string[];
}

export interface CaptureRuleSet {
  table: 'nat';
  /** Chains to create. */
  chains: string[];
  /** Rules in order; rules of one chain keep their relative order. */
  rules: NatRule[];
}

/** Raw option strings as a CLI gets them; omitted fields take DEFAULT_CAPTURE_CONFIG. */
export interface CaptureOptionInput {
  proxyUid?: string;
  proxyGid?: string;
  outboundPort?: string;
  inboundPort?: string;
  inboundPorts?: string;
  excludeInboundPorts?: string;
  includeOutboundCidrs?: string;
  excludeOutboundCidrs?: string;
  excludeOutboundPorts?: string;
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function parseIntInRange(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const octets = parts.map((p) => parseIntInRange(p, 0, 255));
  return octets.every((o): o is number => o !== undefined) ? octets : undefined;
}

/** Normalises "10.0.0.0/8" or a bare "10.1.2.3" (→ /32); undefined when not an IPv4 CIDR. */
export function normalizeCidr(text: string): string | undefined {
  const [addr, bits, ...rest] = text.split('/');
  if (rest.length > 0 || addr === undefined) return undefined;
  const octets = parseIpv4(addr);
  if (!octets) return undefined;
  const prefix = bits === undefined ? 32 : parseIntInRange(bits, 0, 32);
  if (prefix === undefined) return undefined;
  return `${octets.join('.')}/${prefix}`;
}

/** Parses and checks proxy-init's options; issues name the option (e.g. `--inbound-ports[1]`). */
export function parseCaptureOptions(input: CaptureOptionInput): ValidationResult<CaptureConfig> {
  const errors: ValidationIssue[] = [];
  const fail = (path: string, message: string) => errors.push({ path, message, severity: 'error' });

  const ids = (name: string, text: string | undefined, dflt: number[]): number[] => {
    if (text === undefined) return [...dflt];
    const items = splitList(text);
    if (items.length === 0) fail(name, 'expected at least one numeric id');
    return items.flatMap((s, i) => {
      const n = parseIntInRange(s, 0, 4294967294);
      if (n === undefined) { fail(`${name}[${i}]`, `expected a numeric id, got "${s}"`); return []; }
      return [n];
    });
  };
  const port = (name: string, text: string | undefined, dflt: number): number => {
    if (text === undefined) return dflt;
    const n = parseIntInRange(text.trim(), 1, 65535);
    if (n === undefined) { fail(name, `expected a port 1-65535, got "${text}"`); return dflt; }
    return n;
  };
  const ports = (name: string, text: string | undefined, dflt: number[]): number[] => {
    if (text === undefined) return [...dflt];
    return splitList(text).flatMap((s, i) => {
      const n = parseIntInRange(s, 1, 65535);
      if (n === undefined) { fail(`${name}[${i}]`, `expected a port 1-65535, got "${s}"`); return []; }
      return [n];
    });
  };
  const cidrs = (name: string, text: string | undefined, dflt: string[]): string[] => {
    if (text === undefined) return [...dflt];
    return splitList(text).flatMap((s, i) => {
      const c = normalizeCidr(s);
      if (c === undefined) { fail(`${name}[${i}]`, `expected an IPv4 address or CIDR, got "${s}"`); return []; }
      return [c];
    });
  };
  const wildcard = (text: string | undefined): boolean => text !== undefined && text.trim() === '*';

  const dflt = DEFAULT_CAPTURE_CONFIG;
  const config: CaptureConfig = {
    proxyUids: ids('--proxy-uid', input.proxyUid, dflt.proxyUids),
    proxyGids: ids('--proxy-gid', input.proxyGid, dflt.proxyGids),
    outboundPort: port('--outbound-port', input.outboundPort, dflt.outboundPort),
    inboundPort: port('--inbound-port', input.inboundPort, dflt.inboundPort),
    inboundPorts: input.inboundPorts === undefined || wildcard(input.inboundPorts)
      ? '*' : ports('--inbound-ports', input.inboundPorts, []),
    excludeInboundPorts: ports('--exclude-inbound-ports', input.excludeInboundPorts, dflt.excludeInboundPorts),
    includeOutboundCidrs: input.includeOutboundCidrs === undefined || wildcard(input.includeOutboundCidrs)
      ? '*' : cidrs('--include-outbound-cidrs', input.includeOutboundCidrs, []),
    excludeOutboundCidrs: cidrs('--exclude-outbound-cidrs', input.excludeOutboundCidrs, dflt.excludeOutboundCidrs),
    excludeOutboundPorts: ports('--exclude-outbound-ports', input.excludeOutboundPorts, dflt.excludeOutboundPorts),
  };
  if (config.outboundPort === config.inboundPort) {
    fail('--inbound-port', `must differ from --outbound-port (${config.outboundPort})`);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: config, warnings: [] };
}

function uniqueSorted(ns: readonly number[]): number[] {
  return [...new Set(ns)].sort((a, b) => a - b);
}

/**
 * Builds the nat rules for `config`. Deterministic: port and id lists are de-duplicated and sorted,
 * CIDR lists de-duplicated in the given order.
 */
export function buildCaptureRules(config: CaptureConfig): CaptureRuleSet {
  const rules: NatRule[] = [];
  const add = (chain: string, ...args: string[]) => rules.push({ chain, args });
  const inboundOn = config.inboundPorts === '*' || config.inboundPorts.length > 0;
  const outboundOn = config.includeOutboundCidrs === '*' || config.includeOutboundCidrs.length > 0;

  // Targets: the two REDIRECT chains.
  add(CHAIN_REDIRECT, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(config.outboundPort));
  add(CHAIN_IN_REDIRECT, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(config.inboundPort));

  // Inbound: everything arriving from outside the pod.
  if (inboundOn) {
    add('PREROUTING', '-p', 'tcp', '-j', CHAIN_INBOUND);
    if (config.inboundPorts === '*') {
      for (const p of uniqueSorted(config.excludeInboundPorts)) add(CHAIN_INBOUND, '-p', 'tcp', '--dport', String(p), '-j', 'RETURN');
      add(CHAIN_INBOUND, '-p', 'tcp', '-j', CHAIN_IN_REDIRECT);
    } else {
      for (const p of uniqueSorted(config.inboundPorts)) add(CHAIN_INBOUND, '-p', 'tcp', '--dport', String(p), '-j', CHAIN_IN_REDIRECT);
    }
  }

  // Outbound: everything the pod's processes send.
  add('OUTPUT', '-p', 'tcp', '-j', CHAIN_OUTPUT);
  for (const p of uniqueSorted(config.excludeOutboundPorts)) add(CHAIN_OUTPUT, '-p', 'tcp', '--dport', String(p), '-j', 'RETURN');
  // Envoy's inbound passthrough to the app comes from 127.0.0.6 over lo: never loop it back.
  add(CHAIN_OUTPUT, '-o', 'lo', '-s', INBOUND_PASSTHROUGH_SOURCE, '-j', 'RETURN');
  const ownerRules = (kind: '--uid-owner' | '--gid-owner', ids: number[]) => {
    for (const id of uniqueSorted(ids)) {
      // The proxy calling this pod's own (non-loopback) address goes through lo: treat it as inbound.
      if (inboundOn) add(CHAIN_OUTPUT, '-o', 'lo', '!', '-d', '127.0.0.1/32', '-m', 'owner', kind, String(id), '-j', CHAIN_IN_REDIRECT);
      // The app calling itself over lo is not captured.
      add(CHAIN_OUTPUT, '-o', 'lo', '-m', 'owner', '!', kind, String(id), '-j', 'RETURN');
      // The proxy's own outbound traffic goes out directly.
      add(CHAIN_OUTPUT, '-m', 'owner', kind, String(id), '-j', 'RETURN');
    }
  };
  ownerRules('--uid-owner', config.proxyUids);
  ownerRules('--gid-owner', config.proxyGids);
  add(CHAIN_OUTPUT, '-d', '127.0.0.1/32', '-j', 'RETURN');
  if (outboundOn) {
    for (const c of [...new Set(config.excludeOutboundCidrs)]) add(CHAIN_OUTPUT, '-d', c, '-j', 'RETURN');
    if (config.includeOutboundCidrs === '*') add(CHAIN_OUTPUT, '-j', CHAIN_REDIRECT);
    else for (const c of [...new Set(config.includeOutboundCidrs)]) add(CHAIN_OUTPUT, '-d', c, '-j', CHAIN_REDIRECT);
  }

  return { table: 'nat', chains: [...CAPTURE_CHAINS], rules };
}

/** The rule set as input for `iptables-restore --noflush` (declared chains are created or flushed). */
export function renderRestoreScript(set: CaptureRuleSet): string {
  const lines = [`*${set.table}`];
  for (const c of set.chains) lines.push(`:${c} - [0:0]`);
  for (const r of set.rules) lines.push(['-A', r.chain, ...r.args].join(' '));
  lines.push('COMMIT');
  return lines.join('\n') + '\n';
}

/** The rule set as individual `iptables` invocations (argv without the program name). */
export function renderIptablesCommands(set: CaptureRuleSet): string[][] {
  return [
    ...set.chains.map((c) => ['-t', set.table, '-N', c]),
    ...set.rules.map((r) => ['-t', set.table, '-A', r.chain, ...r.args]),
  ];
}

/** Quotes argv for display as one shell line per command. */
export function formatCommandLine(program: string, argv: readonly string[]): string {
  return [program, ...argv].map((a) => (a === '!' || /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Splits one `-A CHAIN ...` line of iptables-save output into chain and arguments. Handles the
 * double-quoted arguments iptables-save emits for comments.
 */
function parseAppendLine(line: string): NatRule | undefined {
  const tokens: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) tokens.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  if (tokens[0] !== '-A' || tokens.length < 2) return undefined;
  return { chain: tokens[1]!, args: tokens.slice(2) };
}

/**
 * Plans the removal of everything proxy-init installed, from the current `iptables-save -t nat`
 * text: delete each rule in a chain we do not own that jumps into one of ours, then flush all our
 * chains, then delete them. Empty when nothing is installed, so running it twice is harmless.
 */
export function planCaptureCleanup(natSave: string): string[][] {
  const owned = new Set(CAPTURE_CHAINS);
  const present = new Set<string>();
  const deletes: string[][] = [];
  let inNat = false;
  for (const raw of natSave.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) { inNat = line === '*nat'; continue; }
    if (!inNat) continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0]!;
      if (owned.has(name)) present.add(name);
      continue;
    }
    const rule = parseAppendLine(line);
    if (!rule || owned.has(rule.chain)) continue;
    const j = rule.args.indexOf('-j');
    const target = j >= 0 ? rule.args[j + 1] : undefined;
    if (target !== undefined && owned.has(target)) deletes.push(['-t', 'nat', '-D', rule.chain, ...rule.args]);
  }
  const ours = CAPTURE_CHAINS.filter((c) => present.has(c));
  return [
    ...deletes,
    ...ours.map((c) => ['-t', 'nat', '-F', c]),
    ...ours.map((c) => ['-t', 'nat', '-X', c]),
  ];
}
