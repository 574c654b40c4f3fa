/**
 * ADS responses written straight into one reused buffer. Their resources are already encoded,
 * with their framing as a field 2 (EncodedAny.framed), so a response is a few small fields plus
 * one copy of those bytes: no walk over the resources, and no moving a long resource to make room
 * for its length. Responses with anything else in them go through the generic encoder. Field
 * numbers come from the loaded protos, not from constants here.
 */
import { encodeMessageTransient, type EncodedAny } from './encode.js';
import { envoyRoot } from './protos.js';
import type { DeltaDiscoveryResponse, DeltaResource, DiscoveryResponse } from './service.js';
import { varintSize, WireBuffer } from './wire-buffer.js';

export const SOTW_RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';
export const DELTA_RESPONSE = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';

/** Tags (field number and wire type 2) of the named fields of a message type, from the protos. */
function tags<K extends string>(type: string, fields: readonly K[]): Record<K, number> {
  const t = envoyRoot().lookupType(type);
  const out = {} as Record<K, number>;
  for (const f of fields) {
    const field = t.fields[f];
    if (!field) throw new Error(`${type} has no field ${f}`);
    out[f] = (field.id << 3) | 2;
  }
  return out;
}

let sotw: Record<'versionInfo' | 'resources' | 'typeUrl' | 'nonce', number> | undefined;
let delta: Record<'systemVersionInfo' | 'resources' | 'typeUrl' | 'nonce' | 'removedResources', number> | undefined;
let resource: Record<'name' | 'version' | 'resource', number> | undefined;

const out = new WireBuffer(1 << 20);

function onlyKeys(m: object, keys: readonly string[]): boolean {
  for (const [k, v] of Object.entries(m)) if (v !== undefined && !keys.includes(k)) return false;
  return true;
}

function isFramed(a: unknown): a is EncodedAny & { framed: Uint8Array } {
  return !!a && typeof a === 'object' && (a as EncodedAny).framed instanceof Uint8Array && onlyKeys(a, ['type_url', 'value', 'framed']);
}

function stringField(tag: number, s: string | undefined): void {
  if (!s) return;
  out.uint32(tag);
  out.string(s);
}

function stringFieldSize(s: string | undefined): number {
  if (!s) return 0;
  const n = Buffer.byteLength(s, 'utf8');
  return 1 + varintSize(n) + n;
}

/**
 * A SotW DiscoveryResponse as protobuf, in a buffer the next response overwrites (the caller
 * copies it at once).
 */
export function writeSotwResponse(m: DiscoveryResponse): Uint8Array {
  if (!onlyKeys(m, ['versionInfo', 'resources', 'typeUrl', 'nonce']) || !m.resources.every(isFramed)) {
    return encodeMessageTransient(SOTW_RESPONSE, m as unknown as Record<string, unknown>);
  }
  const t = (sotw ??= tags(SOTW_RESPONSE, ['versionInfo', 'resources', 'typeUrl', 'nonce']));
  if (t.resources !== 0x12) throw new Error('DiscoveryResponse.resources is expected to be field 2');
  out.reset();
  stringField(t.versionInfo, m.versionInfo);
  for (const r of m.resources as EncodedAny[]) out.raw(r.framed!);
  stringField(t.typeUrl, m.typeUrl);
  stringField(t.nonce, m.nonce);
  return out.view();
}

function isPlainResource(r: DeltaResource): boolean {
  return onlyKeys(r, ['name', 'version', 'resource']) && isFramed(r.resource);
}

/** A DeltaDiscoveryResponse as protobuf, in a buffer the next response overwrites. */
export function writeDeltaResponse(m: DeltaDiscoveryResponse): Uint8Array {
  if (!onlyKeys(m, ['systemVersionInfo', 'resources', 'typeUrl', 'removedResources', 'nonce']) || !m.resources.every(isPlainResource)) {
    return encodeMessageTransient(DELTA_RESPONSE, m as unknown as Record<string, unknown>);
  }
  const t = (delta ??= tags(DELTA_RESPONSE, ['systemVersionInfo', 'resources', 'typeUrl', 'nonce', 'removedResources']));
  const rt = (resource ??= tags('envoy.service.discovery.v3.Resource', ['name', 'version', 'resource']));
  if (rt.resource !== 0x12) throw new Error('Resource.resource is expected to be field 2');
  out.reset();
  stringField(t.systemVersionInfo, m.systemVersionInfo);
  for (const r of m.resources) {
    const framed = (r.resource as EncodedAny).framed!;
    out.uint32(t.resources);
    out.uint32(stringFieldSize(r.version) + framed.length + stringFieldSize(r.name));
    stringField(rt.version, r.version);
    out.raw(framed);
    stringField(rt.name, r.name);
  }
  stringField(t.typeUrl, m.typeUrl);
  stringField(t.nonce, m.nonce);
  for (const name of m.removedResources ?? []) {
    out.uint32(t.removedResources);
    out.string(name);
  }
  return out.view();
}
