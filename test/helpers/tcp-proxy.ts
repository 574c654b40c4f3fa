/**
 * A TCP relay on loopback between a proxy and meshpilot whose connections a test can sever at any
 * moment (both sides reset), as a network failure would: the proxy sees its xDS stream drop and
 * reconnects through the relay.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpRelay {
  /** HOST:PORT to point the proxy at. */
  address: string;
  /** Connections relayed so far (accepted from the proxy). */
  accepted(): number;
  /** Resets every open connection (both sockets of each); returns how many sockets were reset. */
  sever(): number;
  close(): Promise<void>;
}

export async function startTcpRelay(target: string): Promise<TcpRelay> {
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i);
  const port = Number(target.slice(i + 1));
  const open = new Set<Socket>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    const upstream = connect({ host, port });
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('TCP relay: no address');
  return {
    address: `127.0.0.1:${addr.port}`,
    accepted: () => accepted,
    sever() {
      const n = open.size;
      for (const s of [...open]) s.resetAndDestroy();
      open.clear();
      return n;
    },
    async close() {
      for (const s of [...open]) s.destroy();
      open.clear();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
