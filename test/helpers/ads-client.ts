/**
 * A scripted xDS client over real gRPC (grpc-js) for either ADS method: responses are queued and
 * next() waits (bounded) for one. Used where a test must see exactly what meshpilot sends.
 */
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { adsServiceDefinition, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from '../../src/xds/service.js';

export interface ClientOptions { credentials?: grpc.ChannelCredentials; metadata?: grpc.Metadata; options?: grpc.ChannelOptions }

export class StreamClient<Req, Res> {
  private queue: Res[] = [];
  private waiters: Array<(r: Res) => void> = [];
  readonly closed: Promise<grpc.StatusObject>;
  private readonly call: grpc.ClientDuplexStream<Req, Res>;
  private readonly client: grpc.Client;

  constructor(address: string, definition: ServiceDefinition, method: string, opts: ClientOptions = {}) {
    const Ctor = grpc.makeGenericClientConstructor(definition, 'Service');
    this.client = new Ctor(address, opts.credentials ?? grpc.credentials.createInsecure(), opts.options);
    const open = (this.client as unknown as Record<string, (md?: grpc.Metadata) => grpc.ClientDuplexStream<Req, Res>>)[method].bind(this.client);
    this.call = open(opts.metadata ?? new grpc.Metadata());
    this.call.on('data', (r: Res) => {
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    this.closed = new Promise((resolve) => {
      this.call.on('status', resolve);
      this.call.on('error', () => { /* the status event carries it */ });
    });
  }

  send(req: Req): void {
    this.call.write(req);
  }

  next(timeoutMs = 5000): Promise<Res> {
    const r = this.queue.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(done), 1);
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (x: Res) => { clearTimeout(t); resolve(x); };
      this.waiters.push(done);
    });
  }

  /** Resolves true when no response arrives within `ms` (nothing was sent). */
  async quietFor(ms: number): Promise<boolean> {
    try {
      const r = await this.next(ms);
      this.queue.unshift(r);
      return false;
    } catch {
      return true;
    }
  }

  pending(): number {
    return this.queue.length;
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}

/** Node with Istio-style LABELS metadata, as a proxy sends on its first request. */
export function nodeOf(nodeId: string, labels: Record<string, string> = {}): DeltaDiscoveryRequest['node'] {
  const LABELS = { structValue: { fields: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, { stringValue: v }])) } };
  return { id: nodeId, metadata: { fields: { LABELS } } as unknown as Record<string, unknown> };
}

export type DeltaClient = StreamClient<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

export function deltaClient(address: string, opts: ClientOptions = {}): DeltaClient {
  return new StreamClient<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(address, adsServiceDefinition(), 'DeltaAggregatedResources', opts);
}

/** The ACK of a delta response. */
export function deltaAck(r: DeltaDiscoveryResponse): DeltaDiscoveryRequest {
  return { typeUrl: r.typeUrl, responseNonce: r.nonce };
}
