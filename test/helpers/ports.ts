import { createServer } from 'node:net';

/**
 * Ports are taken below Linux's ephemeral range (32768–60999 by default): a port the OS handed
 * out for listening and then released can be taken again by any outgoing connection (an Envoy's,
 * meshpilot's, a test client's) before the test binds it; these are never given to outgoing
 * connections. Picked at random, so parallel test files rarely try the same one; each is checked
 * by binding it.
 */
const LOW = 20_000;
const HIGH = 32_000;

function tryPort(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, host, () => {
      const a = s.address();
      const bound = a && typeof a === 'object' ? a.port : undefined;
      s.close(() => resolve(bound));
    });
  });
}

/** A currently free TCP port on a loopback address. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await tryPort(host, LOW + Math.floor(Math.random() * (HIGH - LOW)));
    if (p !== undefined) return p;
  }
  // Everything tried was taken: let the OS pick (an ephemeral port).
  const p = await tryPort(host, 0);
  if (p === undefined) throw new Error(`no free port on ${host}`);
  return p;
}
