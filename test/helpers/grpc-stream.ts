/**
 * One bidirectional gRPC stream on an HTTP/2 connection of its own, over node:http2 directly: what
 * the fan-out bench's simulated proxies speak (Envoy's xDS client is C++; grpc-js's layers cost the
 * simulated side more CPU per response than meshpilot spends making it, on the same two cores), and
 * the test client that stops reading (unread-stream.ts). A received message is handed over as a
 * view (of the chunk it arrived in, or of one reused buffer when it spans chunks) that is valid
 * only during the callback.
 */
import * as http2 from 'node:http2';

/** Envoy's default HTTP/2 windows for its xDS connection (initial_stream/connection_window_size). */
export const ENVOY_WINDOW = 256 * 1024 * 1024;

export interface GrpcStreamOptions {
  /** HTTP/2 stream and connection windows (default: HTTP/2's own 64 KiB). */
  window?: number;
  /** Start without reading anything: flow control then stops the sender until resume(). */
  paused?: boolean;
}

/** Where messages spanning several chunks are assembled (callbacks are synchronous, so one is enough). */
let scratch = Buffer.allocUnsafe(1 << 20);

export class GrpcStream {
  private readonly session: http2.ClientHttp2Session;
  private readonly stream: http2.ClientHttp2Stream;
  /** Received bytes not yet handed over as messages. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closed = false;

  private readonly onMessage: (message: Buffer) => void;

  constructor(address: string, path: string, onMessage: (message: Buffer) => void, onError: (message: string) => void, opts: GrpcStreamOptions = {}) {
    this.onMessage = onMessage;
    const fail = (msg: string) => {
      if (!this.closed) onError(msg);
      this.closed = true;
    };
    const { window } = opts;
    this.session = http2.connect(`http://${address}`, { ...(window ? { settings: { initialWindowSize: window } } : {}), maxSessionMemory: 1024 });
    if (window) this.session.on('connect', () => this.session.setLocalWindowSize(window));
    this.session.on('error', (err) => fail(`connection: ${err.message}`));
    this.stream = this.session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    this.stream.on('response', (headers) => {
      if (headers[':status'] !== 200) fail(`HTTP status ${headers[':status']}`);
      else if (headers['grpc-status'] !== undefined && headers['grpc-status'] !== '0') fail(`grpc-status ${headers['grpc-status']}: ${headers['grpc-message'] ?? ''}`);
    });
    this.stream.on('trailers', (trailers) => {
      if (trailers['grpc-status'] !== '0') fail(`grpc-status ${trailers['grpc-status']}: ${decodeURIComponent(String(trailers['grpc-message'] ?? ''))}`);
    });
    this.stream.on('error', (err) => fail(`stream: ${err.message}`));
    this.stream.on('close', () => fail('stream closed'));
    // Paused: no 'data' listener, so received frames are never consumed.
    if (opts.paused) this.stream.pause();
    else this.resume();
  }

  /** Starts reading (what waited first). */
  resume(): void {
    this.stream.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.drain(this.onMessage);
    });
    this.stream.resume();
  }

  /** Hands over every complete message received. */
  private drain(onMessage: (message: Buffer) => void): void {
    while (this.buffered >= 5) {
      const header = this.peek(5);
      if (header[0] !== 0) throw new Error('compressed gRPC messages are not expected');
      const length = header.readUInt32BE(1);
      if (this.buffered < 5 + length) return;
      const first = this.chunks[0];
      if (first.length >= 5 + length) {
        onMessage(first.subarray(5, 5 + length));
        this.consume(5 + length);
      } else {
        this.consume(5);
        onMessage(this.take(length));
      }
    }
  }

  /** The first n buffered bytes (n ≤ 5 here), copied only when they span chunks. */
  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    return Buffer.concat(this.chunks, Math.min(this.buffered, 16)).subarray(0, n);
  }

  /** Drops n buffered bytes. */
  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0];
      if (c.length <= n) {
        this.chunks.shift();
        n -= c.length;
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
  }

  /** The next n bytes, assembled in the shared scratch buffer (valid until the next message). */
  private take(n: number): Buffer {
    if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.max(n, scratch.length * 2));
    let at = 0;
    while (at < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - at);
      c.copy(scratch, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return scratch.subarray(0, n);
  }

  write(message: Uint8Array): void {
    if (this.closed) return;
    const framed = Buffer.allocUnsafe(5 + message.length);
    framed[0] = 0;
    framed.writeUInt32BE(message.length, 1);
    framed.set(message, 5);
    this.stream.write(framed);
  }

  close(): void {
    this.closed = true;
    this.stream.destroy();
    this.session.destroy();
  }
}
