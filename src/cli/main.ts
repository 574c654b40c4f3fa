#!/usr/bin/env node
import { Command } from 'commander';
import { registerValidate } from './validate.js';
import { registerServe } from './serve.js';
import { registerTranslate } from './translate.js';
import { registerDemo } from './demo.js';
import { registerBootstrap } from './bootstrap.js';
import { registerGenCrds } from './gen-crds.js';
import { registerProxyInit } from './proxy-init.js';
import { registerExplain } from './explain.js';
import { registerDiff } from './diff.js';
import { registerProxyStatus } from './proxy-status.js';
import { registerProxyConfig } from './proxy-config.js';

const program = new Command();
program
  .name('meshpilot')
  .description('An Istio-compatible traffic-management control plane for Envoy')
  .version('0.1.0')
  // Usage errors exit 2 (1 is reserved for "invalid config" in validate); help and version exit 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

registerValidate(program);
registerServe(program);
registerTranslate(program);
registerDemo(program);
registerBootstrap(program);
registerGenCrds(program);
registerProxyInit(program);
registerExplain(program);
registerDiff(program);
registerProxyStatus(program);
registerProxyConfig(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`meshpilot: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
