/**
 * ADS responses are serialised into one reused buffer (src/xds/service.ts): that is only right
 * while grpc-js copies each serialised message before the next is made. Real grpc-js server and
 * client here: large, distinct responses written back to back on two streams arrive intact.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adsServiceDefinition, type DiscoveryRequest, type DiscoveryResponse } from '../../../src/xds/service.js';

const TYPE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

/** A resource of `size` bytes filled with one value per (stream, response). */
const payload = (stream: number, n: number, size: number) => new Uint8Array(size).fill((stream * 31 + n) & 255);

describe('ADS response serialisation into a reused buffer', () => {
  it('delivers interleaved large responses on two streams byte for byte', async () => {
    const server = new grpc.Server();
    const perStream = 20;
    const sizes = [70_000, 150_000, 3, 600_000];
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
        call.once('data', (req: DiscoveryRequest) => {
          const stream = Number(req.node?.id);
          // Both streams' responses are written in one synchronous burst each, alternating sizes.
          for (let n = 0; n < perStream; n++) {
            const size = sizes[n % sizes.length];
            call.write({ versionInfo: `v${n}`, typeUrl: TYPE, nonce: `${stream}-${n}`, resources: [{ type_url: TYPE, value: payload(stream, n, size) }] });
          }
        });
      },
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.end(),
    });
    const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    const Ctor = grpc.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');
    const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20 });
    try {
      const receive = (stream: number) => new Promise<DiscoveryResponse[]>((resolve, reject) => {
        const call = (client as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamAggregatedResources();
        const got: DiscoveryResponse[] = [];
        const t = setTimeout(() => reject(new Error(`stream ${stream}: ${got.length} of ${perStream} responses`)), 10_000);
        call.on('data', (r: DiscoveryResponse) => {
          got.push(r);
          if (got.length === perStream) { clearTimeout(t); call.cancel(); resolve(got); }
        });
        call.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) reject(e); });
        call.write({ node: { id: String(stream) }, typeUrl: TYPE });
      });
      const [a, b] = await Promise.all([receive(1), receive(2)]);
      for (const [stream, got] of [[1, a], [2, b]] as const) {
        got.forEach((r, n) => {
          assert.equal(r.nonce, `${stream}-${n}`);
          assert.equal(r.versionInfo, `v${n}`);
          assert.deepEqual(new Uint8Array(r.resources[0].value), payload(stream, n, sizes[n % sizes.length]), `stream ${stream} response ${n}`);
        });
      }
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
