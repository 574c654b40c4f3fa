/**
 * An ADS client that sends requests but never reads a byte of what comes back: a raw HTTP/2 gRPC
 * stream whose response body is never consumed, so HTTP/2 flow control soon stops the server from
 * sending on it — the proxy that hangs, or floods requests without reading.
 */
import { adsServiceDefinition } from '../../src/xds/service.js';
import { GrpcStream } from './grpc-stream.js';

export interface UnreadStream {
  send(req: Record<string, unknown>): void;
  /** Starts reading: every response from now on (including those waiting) is decoded into the returned list. */
  resume(): Array<Record<string, unknown>>;
  close(): void;
}

export function openUnreadStream(address: string, method: 'StreamAggregatedResources' | 'DeltaAggregatedResources'): UnreadStream {
  const def = adsServiceDefinition()[method];
  const responses: Array<Record<string, unknown>> = [];
  // A message is a view valid only during the callback: decoded from a copy, so its bytes stay.
  const stream = new GrpcStream(address, def.path, (m) => { responses.push(def.responseDeserialize(Buffer.from(m)) as Record<string, unknown>); }, () => undefined, { paused: true });
  return {
    send: (req) => stream.write(def.requestSerialize(req)),
    resume() {
      stream.resume();
      return responses;
    },
    close: () => stream.close(),
  };
}
