/**
 * Translator output (plain objects shaped like Envoy's messages: camelCase fields, enum names,
 * nested `{'@type': url, ...}` Any values, Structs as plain JSON) checked and written as protobuf
 * in one walk. Each message type gets a plan once (a checking writer per field); fields are written
 * in field-number order, as protobufjs writes them, so the bytes are the ones protobufjs's
 * fromObject + encode produce. Nothing is built but the output buffer (and a short list of each
 * message's fields), and the input is not mutated.
 *
 * What protobufjs's fromObject would silently drop or coerce, and what its verify refuses, is an
 * EncodeError here: unknown fields, wrongly typed scalars, unknown enum values, two members of one oneof.
 * Errors carry the field path, collected while the error unwinds (the success path builds none).
 */
import protobuf from 'protobufjs';
import { envoyRoot } from './protos.js';
import { WireBuffer } from './wire-buffer.js';

/** A value that cannot be encoded; `segments` is the field path, innermost first. */
export class EncodeError extends Error {
  readonly segments: string[] = [];
  constructor(readonly detail: string) {
    super(detail);
  }

  /** The full path below `root`, e.g. `listeners/x.filterChains[0].filters[1]`. */
  pathFrom(root: string): string {
    let p = root;
    for (let i = this.segments.length - 1; i >= 0; i--) p += this.segments[i];
    return p;
  }
}

/** Any error escaping a nested value, with one more path segment (outermost last). */
function at(err: unknown, segment: string): EncodeError {
  const e = err instanceof EncodeError ? err : new EncodeError(err instanceof Error ? err.message : String(err));
  e.segments.push(segment);
  return e;
}

const refuse = (expected: string, v: unknown): EncodeError => new EncodeError(`expected ${expected}, got ${JSON.stringify(v)}`);

/** Checks one non-null value (a list element or map value for repeated and map fields) and writes it without a tag. */
type WriteValue = (w: WireBuffer, v: unknown) => void;

interface FieldPlan {
  name: string;
  id: number;
  /** Tag of one value: field number and wire type. */
  tag: number;
  write: WriteValue;
  repeated: boolean;
  /** Repeated numbers in one length-delimited run. */
  packed: boolean;
  map: boolean;
  /** A singular message field may be null (not set); scalars and list or map elements may not. */
  nullable: boolean;
  /** Bit of its oneof in a message's set-oneofs mask, 0 when not in a oneof. */
  oneofBit: number;
  oneofName: string;
  /** Map fields: the key's tag and writer (keys are object keys: strings spelling the key type). */
  keyTag: number;
  writeKey?: (w: WireBuffer, k: string) => void;
}

export interface MessagePlan {
  /** Full name without the leading dot. */
  readonly name: string;
  readonly fields: ReadonlyMap<string, FieldPlan>;
}

const plans = new WeakMap<protobuf.Type, MessagePlan>();

/** The plan of a message type, built on first use. */
function planOf(type: protobuf.Type): MessagePlan {
  let plan = plans.get(type);
  if (!plan) {
    plan = buildPlan(type);
    plans.set(type, plan);
  }
  return plan;
}

const WIRE_LEN = 2;

function buildPlan(type: protobuf.Type): MessagePlan {
  const oneofs = type.oneofsArray;
  if (oneofs.length > 30) throw new Error(`${type.fullName.slice(1)}: more oneofs than encoding can track`);
  const fields = new Map<string, FieldPlan>();
  for (const field of type.fieldsArray) {
    field.resolve();
    const rt = field.resolvedType;
    const isMessage = rt instanceof protobuf.Type;
    const scalarType = rt instanceof protobuf.Enum ? 'int32' : field.type;
    const wireType = isMessage ? WIRE_LEN : (protobuf.types.basic as Record<string, number>)[scalarType];
    const oneofIndex = field.partOf ? oneofs.indexOf(field.partOf) : -1;
    const plan: FieldPlan = {
      name: field.name,
      id: field.id,
      tag: ((field.id << 3) | wireType) >>> 0,
      write: isMessage ? messageWriter(rt) : scalarWriter(field),
      repeated: field.repeated,
      packed: field.repeated && !field.map && field.packed && (protobuf.types.packed as Record<string, number | undefined>)[scalarType] !== undefined,
      map: field.map,
      nullable: isMessage && !field.repeated && !field.map,
      oneofBit: oneofIndex >= 0 ? 1 << oneofIndex : 0,
      oneofName: field.partOf?.name ?? '',
      keyTag: 0,
    };
    if (field instanceof protobuf.MapField) {
      plan.keyTag = (8 | (protobuf.types.mapKey as Record<string, number>)[field.keyType]) >>> 0;
      plan.writeKey = mapKeyWriter(field);
    }
    fields.set(field.name, plan);
  }
  return { name: type.fullName.slice(1), fields };
}

const byId = (a: FieldPlan, b: FieldPlan): number => a.id - b.id;

/** Checks one message object and writes its fields (no tag, no length). */
function writeFields(w: WireBuffer, plan: MessagePlan, obj: Record<string, unknown>, anyBody = false): void {
  const present: FieldPlan[] = [];
  let sorted = true;
  let lastId = 0;
  let oneofsSet = 0;
  for (const key in obj) {
    const value = obj[key];
    if (value === undefined) continue;
    const f = plan.fields.get(key);
    if (!f) {
      if (anyBody && key === '@type') continue;
      throw new EncodeError(`unknown field "${key}" for ${plan.name}`);
    }
    if (value === null && f.nullable) continue;
    if (f.oneofBit) {
      if (oneofsSet & f.oneofBit) throw new EncodeError(`oneof ${f.oneofName} allows one field, got ${otherOneofMember(plan, obj, key, f.oneofName)} and "${key}"`);
      oneofsSet |= f.oneofBit;
    }
    if (f.id < lastId) sorted = false;
    lastId = f.id;
    present.push(f);
  }
  if (!sorted) present.sort(byId);
  for (const f of present) {
    try {
      writeField(w, f, obj[f.name]);
    } catch (err) {
      throw at(err, `.${f.name}`);
    }
  }
}

function otherOneofMember(plan: MessagePlan, obj: Record<string, unknown>, key: string, oneof: string): string {
  for (const k in obj) if (k !== key && obj[k] != null && plan.fields.get(k)?.oneofName === oneof) return `"${k}"`;
  return 'another field';
}

function writeField(w: WireBuffer, f: FieldPlan, value: unknown): void {
  if (f.map) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse('a map (object)', value);
    const m = value as Record<string, unknown>;
    for (const k in m) {
      const v = m[k];
      try {
        if (v === null || v === undefined) throw refuse('a value', v ?? null);
        w.uint32(((f.id << 3) | WIRE_LEN) >>> 0);
        const s = w.begin();
        w.uint32(f.keyTag);
        f.writeKey!(w, k);
        w.uint32(((2 << 3) | (f.tag & 7)) >>> 0);
        f.write(w, v);
        w.end(s);
      } catch (err) {
        throw at(err, `.${k}`);
      }
    }
    return;
  }
  if (f.repeated) {
    if (!Array.isArray(value)) throw new EncodeError('expected a list');
    if (value.length === 0) return;
    const s = f.packed ? (w.uint32(((f.id << 3) | WIRE_LEN) >>> 0), w.begin()) : 0;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      try {
        if (v === null || v === undefined) throw refuse('a value', v ?? null);
        if (!f.packed) w.uint32(f.tag);
        f.write(w, v);
      } catch (err) {
        throw at(err, `[${i}]`);
      }
    }
    if (f.packed) w.end(s);
    return;
  }
  w.uint32(f.tag);
  f.write(w, value);
}

const ANY = 'google.protobuf.Any';
const STRUCT = 'google.protobuf.Struct';

function expectObject(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) throw refuse(`a ${name} message`, v);
  return v as Record<string, unknown>;
}

/**
 * Message types whose encodings are kept per object: a route configuration is rebuilt whole when
 * one of its virtual hosts changes, and the translator reuses the other virtual host objects, so
 * they are written from their earlier bytes. Translator output is never changed once made (the
 * same assumption as the server's versions per value object).
 */
const KEPT_ENCODINGS = new Set(['envoy.config.route.v3.VirtualHost']);

/** A length-delimited message value; Any from `{'@type', ...}`, Struct also from plain JSON. */
function messageWriter(type: protobuf.Type): WriteValue {
  const name = type.fullName.slice(1);
  let plan: MessagePlan | undefined;
  if (name === ANY) return (w, v) => writeAny(w, expectObject(v, name));
  const isStruct = name === STRUCT;
  if (KEPT_ENCODINGS.has(name)) {
    const kept = new WeakMap<object, Uint8Array>();
    return (w, v) => {
      const o = expectObject(v, name);
      const bytes = kept.get(o);
      if (bytes) {
        w.bytes(bytes);
        return;
      }
      const s = w.begin();
      writeFields(w, (plan ??= planOf(type)), o);
      const length = w.length - s;
      w.end(s);
      kept.set(o, w.copy(w.length - length));
    };
  }
  return (w, v) => {
    const o = expectObject(v, name);
    const s = w.begin();
    // A Struct given as the message ({fields: {k: Value}}) or, as the translator writes metadata, as plain JSON.
    if (isStruct && !('fields' in o)) writeJsonStruct(w, o);
    else writeFields(w, (plan ??= planOf(type)), o);
    w.end(s);
  };
}

/** google.protobuf.Any: type_url (1) and the inner message as value (2), written in place. */
function writeAny(w: WireBuffer, obj: Record<string, unknown>): void {
  const s = w.begin();
  if ('type_url' in obj && 'value' in obj) {
    // Already packed (e.g. passed through from a proxy's own request).
    if (typeof obj.type_url !== 'string') throw at(refuse('a string', obj.type_url), '.type_url');
    w.uint32(0x0a);
    w.string(obj.type_url);
    w.uint32(0x12);
    try {
      convertBytes(w, obj.value);
    } catch (err) {
      throw at(err, '.value');
    }
  } else {
    const url = obj['@type'];
    if (typeof url !== 'string') throw new EncodeError('google.protobuf.Any needs "@type"');
    const plan = planForUrl(url);
    w.uint32(0x0a);
    w.string(url);
    w.uint32(0x12);
    const inner = w.begin();
    writeFields(w, plan, obj, true);
    w.end(inner);
  }
  w.end(s);
}

/** Plain JSON as google.protobuf.Struct fields: map<string, Value> (1); entries key (1), value (2). */
function writeJsonStruct(w: WireBuffer, obj: Record<string, unknown>): void {
  for (const k in obj) {
    const v = obj[k];
    if (v === undefined) continue;
    try {
      w.uint32(0x0a);
      const entry = w.begin();
      w.uint32(0x0a);
      w.string(k);
      w.uint32(0x12);
      const value = w.begin();
      writeJsonValue(w, v);
      w.end(value);
      w.end(entry);
    } catch (err) {
      throw at(err, `.${k}`);
    }
  }
}

/** google.protobuf.Value: null (1), number (2), string (3), bool (4), struct (5), list (6). */
function writeJsonValue(w: WireBuffer, v: unknown): void {
  if (v === null) {
    w.uint32(0x08);
    w.uint32(0);
  } else if (typeof v === 'number') {
    w.uint32(0x11);
    w.double(v);
  } else if (typeof v === 'string') {
    w.uint32(0x1a);
    w.string(v);
  } else if (typeof v === 'boolean') {
    w.uint32(0x20);
    w.uint32(v ? 1 : 0);
  } else if (Array.isArray(v)) {
    w.uint32(0x32);
    const list = w.begin();
    for (let i = 0; i < v.length; i++) {
      try {
        w.uint32(0x0a);
        const item = w.begin();
        writeJsonValue(w, v[i]);
        w.end(item);
      } catch (err) {
        throw at(err, `[${i}]`);
      }
    }
    w.end(list);
  } else if (typeof v === 'object') {
    w.uint32(0x2a);
    const struct = w.begin();
    writeJsonStruct(w, v as Record<string, unknown>);
    w.end(struct);
  } else {
    throw refuse('JSON (string, number, boolean, null, list or object)', String(v));
  }
}

const DIGITS = /^-?\d+$/;
const isLong = (v: unknown): boolean => (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && DIGITS.test(v)) || (typeof v === 'object' && v !== null && 'low' in v);
const longBits = (v: unknown): protobuf.util.LongBits => protobuf.util.LongBits.from(v as number | string | protobuf.Long);

/** protobufjs's fromObject silently coerces wrong scalars (a string port becomes 0): refuse them instead. */
function scalarWriter(field: protobuf.Field): WriteValue {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) {
    const byName = new Map(Object.entries(rt.values));
    const numbers = new Set(byName.values());
    const expected = `one of ${[...byName.keys()].join(', ')} (${rt.fullName.slice(1)})`;
    return (w, v) => {
      const n = typeof v === 'string' ? byName.get(v) : typeof v === 'number' && numbers.has(v) ? v : undefined;
      if (n === undefined) throw refuse(expected, v);
      w.int32(n);
    };
  }
  switch (field.type) {
    case 'string': return (w, v) => { if (typeof v !== 'string') throw refuse('a string', v); w.string(v); };
    case 'bool': return (w, v) => { if (typeof v !== 'boolean') throw refuse('a boolean', v); w.uint32(v ? 1 : 0); };
    case 'double': return (w, v) => { if (typeof v !== 'number') throw refuse('a number', v); w.double(v); };
    case 'float': return (w, v) => { if (typeof v !== 'number') throw refuse('a number', v); w.float(v); };
    case 'bytes': return convertBytes;
    case 'int32': return (w, v) => w.int32(int32(v));
    case 'sint32': return (w, v) => { const n = int32(v); w.uint32(((n << 1) ^ (n >> 31)) >>> 0); };
    case 'sfixed32': return (w, v) => w.fixed32(int32(v));
    case 'uint32': return (w, v) => w.uint32(uint32(v));
    case 'fixed32': return (w, v) => w.fixed32(uint32(v));
    case 'int64': case 'uint64': return (w, v) => {
      if (!isLong(v)) throw refuse('a 64-bit integer', v);
      if (typeof v === 'number' && v >= 0 && v <= 0xffffffff) w.uint32(v);
      else { const b = longBits(v); w.varint64(b.lo, b.hi); }
    };
    case 'sint64': return (w, v) => {
      if (!isLong(v)) throw refuse('a 64-bit integer', v);
      const b = longBits(v).zzEncode();
      w.varint64(b.lo, b.hi);
    };
    case 'fixed64': case 'sfixed64': return (w, v) => {
      if (!isLong(v)) throw refuse('a 64-bit integer', v);
      const b = longBits(v);
      w.fixed64(b.lo, b.hi);
    };
    default: throw new Error(`${field.fullName.slice(1)}: unsupported field type ${field.type}`);
  }
}

function int32(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw refuse('an integer', v);
  if (v < -0x80000000 || v > 0x7fffffff) throw refuse('a 32-bit integer', v);
  return v;
}

function uint32(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw refuse('an integer', v);
  if (v < 0 || v > 0xffffffff) throw refuse('an unsigned 32-bit integer', v);
  return v;
}

/** Bytes as a Uint8Array, or a base64 string (decoded as protobufjs's fromObject does). */
function convertBytes(w: WireBuffer, v: unknown): void {
  if (v instanceof Uint8Array) return w.bytes(v);
  if (typeof v !== 'string') throw refuse('bytes (base64 string or Uint8Array)', v);
  const buf = new Uint8Array(protobuf.util.base64.length(v));
  protobuf.util.base64.decode(v, buf, 0);
  w.bytes(buf);
}

/** Map keys are object keys: strings that must spell the key type (as protobufjs's verify requires). */
function mapKeyWriter(field: protobuf.MapField): (w: WireBuffer, k: string) => void {
  if (field.keyType === 'string') return (w, k) => w.string(k);
  const write = scalarWriter(new protobuf.Field('key', 1, field.keyType));
  if (field.keyType === 'bool') {
    return (w, k) => {
      if (!/^(?:true|false|0|1)$/.test(k)) throw new EncodeError(`map key ${JSON.stringify(k)}: expected true or false`);
      write(w, k === 'true' || k === '1');
    };
  }
  const long = ['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64'].includes(field.keyType);
  return (w, k) => {
    if (!/^-?(?:0|[1-9][0-9]*)$/.test(k)) throw new EncodeError(`map key ${JSON.stringify(k)}: expected an integer`);
    write(w, long ? k : Number(k));
  };
}

const byName = new Map<string, MessagePlan | null>();

function lookupType(name: string): protobuf.Type | undefined {
  try {
    return envoyRoot().lookupType(name);
  } catch {
    return undefined;
  }
}

/** The plan for a type URL or full name; an EncodeError when the type is not loaded. */
export function planForUrl(typeUrlOrName: string): MessagePlan {
  const name = typeUrlOrName.slice(typeUrlOrName.lastIndexOf('/') + 1);
  let plan = byName.get(name);
  if (plan === undefined) {
    const type = lookupType(name);
    plan = type ? planOf(type) : null;
    byName.set(name, plan);
  }
  if (!plan) throw new EncodeError(`type ${name} is not loaded (add its .proto to ENVOY_PROTO_FILES)`);
  return plan;
}

/** One buffer for every top-level message (encoding is synchronous and never nested at the top). */
const out = new WireBuffer();

/** Checks `obj` against the plan's message type and returns its protobuf bytes. */
export function writeMessage(plan: MessagePlan, obj: Record<string, unknown>): Uint8Array {
  out.reset();
  writeFields(out, plan, obj);
  return out.copy();
}

/**
 * Like {@link writeMessage}, but the bytes are a view of the shared buffer that the next encoding
 * overwrites: for a caller that copies them before encoding anything else (no allocation).
 */
export function writeMessageTransient(plan: MessagePlan, obj: Record<string, unknown>): Uint8Array {
  out.reset();
  writeFields(out, plan, obj);
  return out.view();
}
