/**
 * Encoding translator output into protobuf. Two guarantees on top of protobufjs: nested
 * `{'@type': url, ...}` objects become real google.protobuf.Any values, and an unknown field or a
 * wrongly typed scalar anywhere is an error naming its path instead of being dropped or coerced
 * silently. Checking and writing happen in one walk (wire-encoder.ts).
 */
import { TYPE_URLS, type ResourceKind } from '../translator/types.js';
import { envoyRoot } from './protos.js';
import { putVarint, varintSize } from './wire-buffer.js';
import { EncodeError, planForUrl, writeMessage, writeMessageTransient } from './wire-encoder.js';

export interface EncodedAny {
  type_url: string;
  value: Uint8Array;
  /**
   * The whole Any as a length-delimited field 2 (tag, length, type_url, value), `value` being a
   * view of it: DiscoveryResponse.resources and DeltaDiscoveryResponse's Resource.resource are
   * both field 2, so a response copies it as it is (response-writer.ts).
   */
  framed?: Uint8Array;
}

function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

/** Encodes one message given its type URL or full name; errors name `path` and the field path below it. */
export function encodeMessage(typeUrlOrName: string, obj: Record<string, unknown>, path = typeNameOf(typeUrlOrName)): Uint8Array {
  return encodeWith(writeMessage, typeUrlOrName, obj, path);
}

/**
 * Like {@link encodeMessage}, but the bytes are only valid until the next encoding (a view of a
 * reused buffer): for callers that copy them at once.
 */
export function encodeMessageTransient(typeUrlOrName: string, obj: Record<string, unknown>): Uint8Array {
  return encodeWith(writeMessageTransient, typeUrlOrName, obj, typeNameOf(typeUrlOrName));
}

function encodeWith(write: typeof writeMessage, typeUrlOrName: string, obj: Record<string, unknown>, path: string): Uint8Array {
  try {
    return write(planForUrl(typeUrlOrName), obj);
  } catch (err) {
    if (err instanceof EncodeError) throw new Error(`${err.pathFrom(path)}: ${err.detail}`);
    throw new Error(`${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A translator resource as google.protobuf.Any. */
export function encodeResource(kind: ResourceKind, value: Record<string, unknown>, name = ''): EncodedAny {
  const url = TYPE_URLS[kind];
  return framedAny(url, encodeMessage(url, value, `${kind}/${name || String(value.name ?? value.clusterName ?? '?')}`));
}

/** An Any of `typeUrl` (ASCII) and `bytes`, with its field-2 framing (see EncodedAny.framed). */
function framedAny(typeUrl: string, bytes: Uint8Array): EncodedAny {
  const anyLength = 1 + varintSize(typeUrl.length) + typeUrl.length + 1 + varintSize(bytes.length) + bytes.length;
  const framed = Buffer.allocUnsafe(1 + varintSize(anyLength) + anyLength);
  let p = 0;
  framed[p++] = 0x12;
  p = putVarint(framed, p, anyLength);
  framed[p++] = 0x0a;
  p = putVarint(framed, p, typeUrl.length);
  p += framed.write(typeUrl, p, 'latin1');
  framed[p++] = 0x12;
  p = putVarint(framed, p, bytes.length);
  framed.set(bytes, p);
  return { type_url: typeUrl, value: framed.subarray(p), framed };
}

/** Decodes a resource back into a plain object (for tests and debugging). */
export function decodeResource(kind: ResourceKind, bytes: Uint8Array): Record<string, unknown> {
  const type = envoyRoot().lookupType(typeNameOf(TYPE_URLS[kind]));
  return type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: false }) as Record<string, unknown>;
}

/** A plain JSON object as google.protobuf.Struct in protobufjs's object form (e.g. a request's node metadata). */
export function jsToStruct(obj: Record<string, unknown>): { fields: Record<string, unknown> } {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) fields[k] = jsToValue(v);
  return { fields };
}

function jsToValue(v: unknown): Record<string, unknown> {
  if (v === null) return { nullValue: 0 };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsToValue) } };
  return { structValue: jsToStruct(v as Record<string, unknown>) };
}
