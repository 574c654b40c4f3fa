/** The gRPC service definition of ADS, built from the loaded Envoy protos (no generated code). */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { DELTA_RESPONSE, SOTW_RESPONSE, writeDeltaResponse, writeSotwResponse } from './response-writer.js';
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

export interface DeltaDiscoveryRequest {
  node?: DiscoveryRequest['node'];
  typeUrl?: string;
  resourceNamesSubscribe?: string[];
  resourceNamesUnsubscribe?: string[];
  initialResourceVersions?: Record<string, string>;
  responseNonce?: string;
  errorDetail?: { code?: number; message?: string };
}

export interface DeltaResource {
  name: string;
  version: string;
  resource: { type_url: string; value: Uint8Array };
}

export interface DeltaDiscoveryResponse {
  systemVersionInfo: string;
  resources: DeltaResource[];
  typeUrl: string;
  removedResources: string[];
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

/** A bidirectional streaming method whose messages are the named protobuf types. */
function streamMethod(service: string, method: string, reqType: string, resType: string, writeResponse: (m: never) => Uint8Array): Record<string, unknown> {
  const root = envoyRoot();
  const Req = root.lookupType(reqType);
  const Res = root.lookupType(resType);
  return {
    path: `/${service}/${method}`,
    requestStream: true,
    responseStream: true,
    requestDeserialize: (buf: Buffer): unknown => Req.toObject(Req.decode(buf), { longs: Number, enums: String }),
    requestSerialize: (m: Record<string, unknown>): Buffer => Buffer.from(Req.encode(Req.fromObject(m)).finish()),
    // Responses carry already encoded resources: written directly (response-writer.ts) into a
    // reused buffer, not a new one per response: grpc-js copies the serialised message
    // into its length-prefixed frame at once (grpc-js 1.14 ServerInterceptingCall.serializeMessage;
    // response compression, which would keep it longer, is not supported), and every proxy's
    // response to a push would otherwise allocate its size again (a 143 KiB route configuration
    // to 1,000 proxies: 143 MB of garbage per push). test/unit/xds/response-serialize.test.ts
    // checks that interleaved responses arrive intact.
    responseSerialize: (m: Record<string, unknown>): Buffer => {
      const bytes = writeResponse(m as never);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    responseDeserialize: (buf: Buffer): unknown => Res.toObject(Res.decode(buf), { longs: Number, enums: String }),
    originalName: method.charAt(0).toLowerCase() + method.slice(1),
  };
}

const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** ADS: State of the World (StreamAggregatedResources) and Delta (DeltaAggregatedResources). */
export function adsServiceDefinition(): ServiceDefinition {
  return {
    StreamAggregatedResources: streamMethod(ADS, 'StreamAggregatedResources', 'envoy.service.discovery.v3.DiscoveryRequest', SOTW_RESPONSE, writeSotwResponse),
    DeltaAggregatedResources: streamMethod(ADS, 'DeltaAggregatedResources', 'envoy.service.discovery.v3.DeltaDiscoveryRequest', DELTA_RESPONSE, writeDeltaResponse),
  } as unknown as ServiceDefinition;
}
