/** Figures for the benchmarks: percentiles, CPU time, and a line per figure checked against its target. */
import { performance } from 'node:perf_hooks';

export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);

/** Wall and CPU (user + system of this process) milliseconds of fn. */
export function timed<T>(fn: () => T): { value: T; wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, wallMs, cpuMs: (c.user + c.system) / 1000 };
}

export const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 2 : 1)} ms` : 'n/a');
export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;

export interface Verdict { figure: string; value: string; target: string; pass: boolean }

const verdicts: Verdict[] = [];

/** Prints one figure against its target and remembers it for the summary. */
export function report(figure: string, value: string, target: string, pass: boolean): void {
  verdicts.push({ figure, value, target, pass });
  console.log(`  ${pass ? 'PASS' : 'FAIL'}  ${figure}: ${value} (target ${target})`);
}

export function summary(): Verdict[] {
  return [...verdicts];
}

export function info(line: string): void {
  console.log(`        ${line}`);
}

export function section(title: string): void {
  console.log(`\n== ${title}`);
}
