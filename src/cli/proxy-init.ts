/**
 * `meshpilot proxy-init`: Istio's init container for the current network namespace. Installs (or
 * with --cleanup removes) the nat rules that send the pod's TCP traffic through its sidecar.
 */
import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import {
  buildCaptureRules, formatCommandLine, parseCaptureOptions, planCaptureCleanup,
  renderIptablesCommands, renderRestoreScript, type CaptureOptionInput,
} from '../proxy/capture.js';

interface ProxyInitOptions extends CaptureOptionInput {
  cleanup?: boolean;
  dryRun?: boolean;
  format: string;
  iptables: string;
}

function run(program: string, argv: string[], input?: string): string {
  const r = spawnSync(program, argv, { input, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`${formatCommandLine(program, argv)}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${formatCommandLine(program, argv)} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** Removes whatever proxy-init installed; returns the commands it ran (or would run). */
function cleanup(iptables: string, dryRun: boolean): string[] {
  const plan = planCaptureCleanup(run(`${iptables}-save`, ['-t', 'nat']));
  if (!dryRun) for (const argv of plan) run(iptables, argv);
  return plan.map((argv) => formatCommandLine(iptables, argv));
}

export function registerProxyInit(program: Command): void {
  program
    .command('proxy-init')
    .description("Install Istio-style traffic capture (nat table) in the current network namespace, like Istio's init container")
    .option('--proxy-uid <uids>', "uid(s) of the proxy, whose traffic is never captured (comma-separated)", '1337')
    .option('--proxy-gid <gids>', "gid(s) of the proxy, whose traffic is never captured (comma-separated)", '1337')
    .option('--outbound-port <port>', 'port of the outbound capture listener', '15001')
    .option('--inbound-port <port>', 'port of the inbound capture listener', '15006')
    .option('--inbound-ports <ports>', "inbound ports to capture: '*' for all, a comma-separated list, or '' for none", '*')
    .option('--exclude-inbound-ports <ports>', "inbound ports never captured (with '*')", '15090,15021,15020')
    .option('--include-outbound-cidrs <cidrs>', "outbound destinations to capture: '*', a CIDR list, or '' for none", '*')
    .option('--exclude-outbound-cidrs <cidrs>', 'outbound destinations never captured', '')
    .option('--exclude-outbound-ports <ports>', 'outbound destination ports never captured', '')
    .option('--cleanup', 'remove the capture rules and chains (idempotent)')
    .option('--dry-run', 'print what would be done, change nothing')
    .option('--format <format>', "dry-run output: 'restore' (iptables-restore input) or 'commands' (one iptables command per line)", 'restore')
    .option('--iptables <program>', 'iptables program; <program>-save and <program>-restore are used too', 'iptables')
    .action((opts: ProxyInitOptions) => {
      if (opts.format !== 'restore' && opts.format !== 'commands') {
        throw new Error(`--format: expected 'restore' or 'commands', got "${opts.format}"`);
      }
      if (opts.cleanup) {
        const done = cleanup(opts.iptables, opts.dryRun === true);
        if (opts.dryRun) process.stdout.write(done.map((l) => l + '\n').join(''));
        else process.stdout.write(`proxy-init: removed capture (${done.length} iptables commands)\n`);
        return;
      }
      const parsed = parseCaptureOptions(opts);
      if (!parsed.ok) throw new Error(parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
      const rules = buildCaptureRules(parsed.value);
      const script = renderRestoreScript(rules);
      if (opts.dryRun) {
        if (opts.format === 'restore') process.stdout.write(script);
        else process.stdout.write(renderIptablesCommands(rules).map((a) => formatCommandLine(opts.iptables, a) + '\n').join(''));
        return;
      }
      // Re-running replaces an earlier installation instead of stacking a second set of jumps.
      cleanup(opts.iptables, false);
      run(`${opts.iptables}-restore`, ['--noflush'], script);
      process.stdout.write(`proxy-init: installed ${rules.rules.length} nat rules in ${rules.chains.join(', ')}\n`);
    });
}
