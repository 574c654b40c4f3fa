/** The gRPC service definition of ADS, built from the loaded Envoy protos (no generated code). */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { envoyRoot } from './protos.js';

export interface DiscoveryRequest {
  versionInfo?: string;
  node?: { id?: string; cluster?: string; metadata?: Record<string, unknown> };
  resourceNames?: string[];
  typeUrl?: string;
  responseNonce?: string;
  errorDetail?: { code?: number; message?: string };
}

export interface DiscoveryResponse {
  versionInfo: string;
  resources: Array<{ type_url: string; value: Uint8Array }>;
  typeUrl: string;
  nonce: string;
}

/** google.protobuf.Struct as a plain JS object. */
export function structToObject(s: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (s as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  for (const [k, v] of Object.entries(fields)) out[k] = valueToJs(v);
  return out;
}

function valueToJs(v: unknown): unknown {
  const x = v as Record<string, unknown>;
  if (x == null) return null;
  if ('stringValue' in x) return x.stringValue;
  if ('numberValue' in x) return x.numberValue;
  if ('boolValue' in x) return x.boolValue;
  if ('structValue' in x) return structToObject(x.structValue);
  if ('listValue' in x) return ((x.listValue as { values?: unknown[] }).values ?? []).map(valueToJs);
  return null;
}

export function adsServiceDefinition(): ServiceDefinition {
  const root = envoyRoot();
  const Req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const Res = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  return {
    StreamAggregatedResources: {
      path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
      requestStream: true,
      responseStream: true,
      requestDeserialize: (buf: Buffer): DiscoveryRequest => Req.toObject(Req.decode(buf), { longs: Number, enums: String }) as DiscoveryRequest,
      requestSerialize: (m: DiscoveryRequest): Buffer => Buffer.from(Req.encode(Req.fromObject(m)).finish()),
      responseSerialize: (m: DiscoveryResponse): Buffer => Buffer.from(Res.encode(Res.fromObject(m)).finish()),
      responseDeserialize: (buf: Buffer): DiscoveryResponse => Res.toObject(Res.decode(buf), { longs: Number, enums: String }) as DiscoveryResponse,
      originalName: 'streamAggregatedResources',
    },
  } as unknown as ServiceDefinition;
}
