/**
 * Notices when what connected proxies reject changes — a new NACK, a rejected resource accepted
 * again, a rejecting proxy gone — and tells subscribers (e.g. the status writer). Only streams that
 * sent an error or hold rejections are looked at, so ordinary ACKs cost nothing.
 */
import type { XdsStream } from './connection.js';

export class NackWatch {
  /** Stream id → fingerprint of the resources it currently rejects (only streams that reject some). */
  private readonly rejecting = new Map<number, string>();
  private readonly listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  has(streamId: number): boolean {
    return this.rejecting.has(streamId);
  }

  /** Ids of the streams that currently reject something. */
  streamIds(): number[] {
    return [...this.rejecting.keys()];
  }

  /** After a stream handled a request: notify if the resources it rejects (or their errors) changed. */
  check(stream: XdsStream): void {
    const parts: string[] = [];
    for (const [kind, t] of Object.entries(stream.status().types)) {
      for (const n of t?.nackedResources ?? []) parts.push(`${kind}/${n.name}@${n.version}:${n.message}`);
    }
    const fingerprint = parts.sort().join('\n');
    const before = this.rejecting.get(stream.streamId) ?? '';
    if (fingerprint === before) return;
    if (fingerprint) this.rejecting.set(stream.streamId, fingerprint);
    else this.rejecting.delete(stream.streamId);
    this.notify();
  }

  /** A stream ended: what it rejected no longer counts. */
  forget(streamId: number): void {
    if (this.rejecting.delete(streamId)) this.notify();
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}
