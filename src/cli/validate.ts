import type { Command } from 'commander';

export function registerValidate(program: Command): void {
  program.command('validate').description('Validate Istio resources (placeholder)').action(() => {
    process.stdout.write('not implemented yet\n');
  });
}
