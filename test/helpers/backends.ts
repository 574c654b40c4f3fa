/**
 * Small HTTP backends on loopback for end-to-end tests: the demo's echo backend (answers JSON
 * `{name, method, path, headers, host}` and counts requests), with the test-side conveniences.
 */
import { startEchoBackend, type EchoBackend, type EchoReply } from '../../src/cli/echo-backend.js';

export type BackendReply = EchoReply;

export interface Backend extends Omit<EchoBackend, 'close'> {
  /** host:port */
  address: string;
  stop(): Promise<void>;
}

export async function startBackend(name: string, opts: { host?: string; port?: number } = {}): Promise<Backend> {
  const b = await startEchoBackend(name, opts.host ?? '127.0.0.1', opts.port ?? 0);
  return { ...b, address: `${b.host}:${b.port}`, stop: () => b.close() };
}

/** Starts several backends at once; stop them all with stopBackends. */
export function startBackends(names: readonly string[], opts: { host?: string } = {}): Promise<Backend[]> {
  return Promise.all(names.map((n) => startBackend(n, opts)));
}

export async function stopBackends(backends: readonly Backend[]): Promise<void> {
  await Promise.all(backends.map((b) => b.stop()));
}
