/**
 * Encoding translator output (protobufjs fromObject form) into protobuf. Two guarantees on top of
 * protobufjs: nested `{'@type': url, ...}` objects become real google.protobuf.Any values, and an
 * unknown field anywhere is an error instead of being dropped silently.
 */
import type protobuf from 'protobufjs';
import { TYPE_URLS, type ResourceKind } from '../translator/types.js';
import { envoyRoot } from './protos.js';

export interface EncodedAny {
  type_url: string;
  value: Uint8Array;
}

function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

const WELL_KNOWN_PASSTHROUGH = new Set(['.google.protobuf.Duration', '.google.protobuf.Struct', '.google.protobuf.Value', '.google.protobuf.ListValue', '.google.protobuf.Timestamp']);

/** Checks field names against the message type and packs nested Any values; returns a fromObject-ready object. */
function prepare(type: protobuf.Type, obj: Record<string, unknown>, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined) continue;
    const field = type.fields[key];
    if (!field) throw new Error(`${path}: unknown field "${key}" for ${type.fullName.slice(1)}`);
    field.resolve();
    const rt = field.resolvedType;
    if (rt && 'fields' in rt) {
      const msgType = rt as protobuf.Type;
      const conv = (v: unknown, p: string): unknown => {
        if (v === null || typeof v !== 'object') return v;
        if (msgType.fullName === '.google.protobuf.Any') return packAny(v as Record<string, unknown>, p);
        if (msgType.fullName === '.google.protobuf.Struct') return 'fields' in (v as object) ? v : jsToStruct(v as Record<string, unknown>);
        if (WELL_KNOWN_PASSTHROUGH.has(msgType.fullName) || msgType.fullName.startsWith('.google.protobuf.')) return v;
        return prepare(msgType, v as Record<string, unknown>, p);
      };
      if (field.map) {
        const m: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) m[k] = conv(v, `${path}.${key}.${k}`);
        out[key] = m;
      } else if (field.repeated) {
        if (!Array.isArray(value)) throw new Error(`${path}.${key}: expected a list`);
        out[key] = value.map((v, i) => conv(v, `${path}.${key}[${i}]`));
      } else {
        out[key] = conv(value, `${path}.${key}`);
      }
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** A plain JSON object as google.protobuf.Struct (the translator writes metadata as plain JSON). */
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

function packAny(obj: Record<string, unknown>, path: string): EncodedAny {
  if ('type_url' in obj && 'value' in obj) return obj as unknown as EncodedAny;
  const url = obj['@type'];
  if (typeof url !== 'string') throw new Error(`${path}: google.protobuf.Any needs "@type"`);
  const { ['@type']: _t, ...rest } = obj;
  return { type_url: url, value: encodeMessage(url, rest, path) };
}

/** Encodes one message given its type URL or full name. */
export function encodeMessage(typeUrlOrName: string, obj: Record<string, unknown>, path = typeNameOf(typeUrlOrName)): Uint8Array {
  let type: protobuf.Type;
  try {
    type = envoyRoot().lookupType(typeNameOf(typeUrlOrName));
  } catch {
    throw new Error(`${path}: type ${typeNameOf(typeUrlOrName)} is not loaded (add its .proto to ENVOY_PROTO_FILES)`);
  }
  const prepared = prepare(type, obj, path);
  const msg = type.fromObject(prepared);
  const err = type.verify(msg);
  if (err) throw new Error(`${path}: ${err}`);
  return type.encode(msg).finish();
}

/** A translator resource as google.protobuf.Any. */
export function encodeResource(kind: ResourceKind, value: Record<string, unknown>, name = ''): EncodedAny {
  const url = TYPE_URLS[kind];
  return { type_url: url, value: encodeMessage(url, value, `${kind}/${name || String(value.name ?? value.clusterName ?? '?')}`) };
}

/** Decodes a resource back into a plain object (for tests and debugging). */
export function decodeResource(kind: ResourceKind, bytes: Uint8Array): Record<string, unknown> {
  const type = envoyRoot().lookupType(typeNameOf(TYPE_URLS[kind]));
  return type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: false }) as Record<string, unknown>;
}
