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

/** Well-known types given in their own protobuf form (Struct is also accepted as plain JSON). */
const WELL_KNOWN_PASSTHROUGH = new Set(['.google.protobuf.Value', '.google.protobuf.ListValue']);

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
        if (v === null) return v;
        if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${p}: expected a ${msgType.fullName.slice(1)} message, got ${JSON.stringify(v)}`);
        if (msgType.fullName === '.google.protobuf.Any') return packAny(v as Record<string, unknown>, p);
        if (msgType.fullName === '.google.protobuf.Struct') return 'fields' in (v as object) ? v : jsToStruct(v as Record<string, unknown>);
        if (WELL_KNOWN_PASSTHROUGH.has(msgType.fullName)) return v;
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
      const check = (v: unknown, p: string): unknown => checkScalar(field, v, p);
      if (field.map) {
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) check(v, `${path}.${key}.${k}`);
      } else if (field.repeated) {
        if (!Array.isArray(value)) throw new Error(`${path}.${key}: expected a list`);
        value.forEach((v, i) => check(v, `${path}.${key}[${i}]`));
      } else {
        check(value, `${path}.${key}`);
      }
      out[key] = value;
    }
  }
  return out;
}

const INTEGER_TYPES = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/** protobufjs's fromObject silently coerces wrong scalar values (a string port becomes 0): refuse them instead. */
function checkScalar(field: protobuf.Field, v: unknown, path: string): void {
  const rt = field.resolvedType;
  const bad = (expected: string) => new Error(`${path}: expected ${expected}, got ${JSON.stringify(v)}`);
  if (rt && 'values' in rt) {
    const values = (rt as protobuf.Enum).values;
    if (typeof v === 'string' ? !(v in values) : !(typeof v === 'number' && Object.values(values).includes(v))) {
      throw bad(`one of ${Object.keys(values).join(', ')} (${rt.fullName.slice(1)})`);
    }
    return;
  }
  if (field.type === 'string') { if (typeof v !== 'string') throw bad('a string'); return; }
  if (field.type === 'bool') { if (typeof v !== 'boolean') throw bad('a boolean'); return; }
  if (field.type === 'bytes') { if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw bad('bytes (base64 string or Uint8Array)'); return; }
  if (field.type === 'double' || field.type === 'float') { if (typeof v !== 'number') throw bad('a number'); return; }
  if (INTEGER_TYPES.has(field.type)) {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw bad('an integer');
    if (field.type.startsWith('u') || field.type === 'fixed32') { if (v < 0 || v > 0xffffffff) throw bad('an unsigned 32-bit integer'); }
    else if (v < -0x80000000 || v > 0x7fffffff) throw bad('a 32-bit integer');
    return;
  }
  if (LONG_TYPES.has(field.type)) {
    const ok = (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v)) || (typeof v === 'object' && v !== null && 'low' in v);
    if (!ok) throw bad('a 64-bit integer');
  }
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
  let msg: protobuf.Message;
  try {
    msg = type.fromObject(prepared);
  } catch (err) {
    throw new Error(`${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
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
