/**
 * An ADS client that sends requests but never reads a byte of what comes back: a raw HTTP/2 gRPC
 * stream whose response body is never consumed, so HTTP/2 flow control soon stops the server from
 * sending on it — the proxy that hangs, or floods requests without reading.
 */
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { adsServiceDefinition } from '../../src/xds/service.js';

export interface UnreadStream {
  send(req: Record<string, unknown>): void;
  /** Starts reading: every response from now on (including those waiting) is decoded into the returned list. */
  resume(): Array<Record<string, unknown>>;
  close(): void;
}

export function openUnreadStream(address: string, method: 'StreamAggregatedResources' | 'DeltaAggregatedResources'): UnreadStream {
  const def = adsServiceDefinition()[method];
  const session: ClientHttp2Session = connect(`http://${address}`);
  session.on('error', () => undefined);
  const stream: ClientHttp2Stream = session.request({ ':method': 'POST', ':path': def.path, 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => undefined);
  // No 'data' listener and paused: received frames are never consumed.
  stream.pause();
  return {
    send(req) {
      const body = def.requestSerialize(req);
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
      stream.write(frame);
    },
    resume() {
      const responses: Array<Record<string, unknown>> = [];
      let buf = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
          const len = buf.readUInt32BE(1);
          responses.push(def.responseDeserialize(buf.subarray(5, 5 + len)) as Record<string, unknown>);
          buf = buf.subarray(5 + len);
        }
      });
      stream.resume();
      return responses;
    },
    close() {
      stream.destroy();
      session.destroy();
    },
  };
}
