/**
 * Proxyless gRPC test pieces: real grpc-js servers on loopback addresses (each answers with its own
 * name, counts calls and can be scripted to fail), a generic unary Echo service (JSON messages, no
 * .proto needed), Kubernetes Service/Pod/EndpointSlice documents for file mode, and the CSDS client.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoIncludeDirs } from '../../../src/xds/protos.js';

export interface EchoReply { server: string }

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v ?? {})),
  deserialize: (b: Buffer) => JSON.parse(b.toString('utf8') || '{}') as unknown,
};

/** meshpilot.test.Echo/Echo: one unary method, JSON on the wire. */
export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/meshpilot.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

export const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
export type EchoClientInstance = InstanceType<typeof EchoClient>;

/** A grpc-js server answering Echo with its name; `fail(n)` may return a status code to fail call n (1-based). */
export class GrpcBackend {
  calls = 0;
  port = 0;
  fail: (n: number) => grpc.status | undefined = () => undefined;
  private server = new grpc.Server();
  constructor(readonly name: string, readonly host: string) {}

  async start(): Promise<void> {
    this.server.addService(ECHO_SERVICE, {
      Echo: (_call: grpc.ServerUnaryCall<unknown, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) => {
        const n = ++this.calls;
        const code = this.fail(n);
        if (code !== undefined) cb({ code, details: `${this.name} fails call ${n}` });
        else cb(null, { server: this.name });
      },
    });
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${this.host}:0`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.server.forceShutdown(); resolve(); }, 2000);
      this.server.tryShutdown(() => { clearTimeout(t); resolve(); });
    });
  }
}

export interface CallResult { ok: boolean; server?: string; code?: grpc.status; ms: number }

/** One unary Echo call with metadata; never rejects (the outcome is in the result). */
export function echo(client: EchoClientInstance, headers: Record<string, string> = {}, deadlineMs = 10_000): Promise<CallResult> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  const started = Date.now();
  return new Promise((resolve) => {
    client.makeUnaryRequest('/meshpilot.test.Echo/Echo', json.serialize, json.deserialize, {}, md, { deadline: Date.now() + deadlineMs }, (err, reply) => {
      const ms = Date.now() - started;
      if (err) resolve({ ok: false, code: err.code, ms });
      else resolve({ ok: true, server: (reply as EchoReply).server, ms });
    });
  });
}

/** `count` calls, a few at a time (bounded), results in order. */
export async function echoMany(client: EchoClientInstance, count: number, headers: Record<string, string> = {}, parallel = 10): Promise<CallResult[]> {
  const out: CallResult[] = [];
  for (let i = 0; i < count; i += parallel) {
    out.push(...await Promise.all(Array.from({ length: Math.min(parallel, count - i) }, () => echo(client, headers))));
  }
  return out;
}

export function tally(results: readonly CallResult[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of results) {
    const key = r.ok ? r.server! : `status ${grpc.status[r.code ?? 2]}`;
    t[key] = (t[key] ?? 0) + 1;
  }
  return t;
}

/** A Kubernetes Service with one gRPC port, and a Pod + EndpointSlice per backend (file mode). */
export function grpcService(name: string, port: number, backends: Array<{ backend: GrpcBackend; labels?: Record<string, string> }>): unknown[] {
  const docs: unknown[] = [{ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ name: 'grpc', port }] } }];
  for (const { backend, labels } of backends) {
    const pod = `${name}-${backend.name}`;
    docs.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: 'default', labels: { app: name, ...labels } }, status: { podIP: backend.host } });
    docs.push({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${pod}-slice`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', ports: [{ name: 'grpc', port: backend.port, protocol: 'TCP' }],
      endpoints: [{ addresses: [backend.host], conditions: { ready: true }, targetRef: { kind: 'Pod', name: pod, namespace: 'default' } }],
    });
  }
  return docs;
}

export interface CsdsResource { name: string; type_url: string; client_status: string; version_info: string }

/** What the client's own xDS client reports over CSDS (envoy.service.status.v3), served from `address`. */
export async function fetchClientStatus(address: string): Promise<CsdsResource[]> {
  const def = protoLoader.loadSync('envoy/service/status/v3/csds.proto', { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: protoIncludeDirs() });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { envoy: { service: { status: { v3: { ClientStatusDiscoveryService: grpc.ServiceClientConstructor } } } } };
  const client = new pkg.envoy.service.status.v3.ClientStatusDiscoveryService(address, grpc.credentials.createInsecure());
  try {
    const res = await new Promise<{ config: Array<{ generic_xds_configs: CsdsResource[] }> }>((resolve, reject) => {
      (client as unknown as { FetchClientStatus: (req: object, cb: (e: Error | null, r: unknown) => void) => void })
        .FetchClientStatus({}, (e, r) => (e ? reject(e) : resolve(r as { config: Array<{ generic_xds_configs: CsdsResource[] }> })));
    });
    return res.config.flatMap((c) => c.generic_xds_configs);
  } finally {
    client.close();
  }
}
