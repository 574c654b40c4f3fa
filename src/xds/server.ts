/**
 * The ADS server (State of the World): owns the gRPC streams; asks `generate` for each proxy's
 * resources on connect and on (debounced, merged) pushes that affect it.
 */
import * as grpc from '@grpc/grpc-js';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../admin/metrics.js';
import type { Logger } from '../log.js';
import { parseNodeId, type ProxyInfo } from '../proxy/node.js';
import { compareStrings } from '../translator/ordering.js';
import { TYPE_URLS, type NamedResource, type XdsResources } from '../translator/types.js';
import { bearerToken, identityMismatch, type ProxyIdentity, type XdsAuthenticator } from './auth.js';
import { AdsConnection, EncodeCache, syncStateOf, type ProxySyncStatus, type XdsStream } from './connection.js';
import { Debouncer, type DebounceClock, type PushRequest } from './debounce.js';
import { clientStatus, csdsServiceDefinition, serveClientStatusStream, type ClientStatusRequest, type ClientStatusResponse } from './csds.js';
import { DeltaConnection } from './delta.js';
import { NackWatch } from './nack-watch.js';
import { PushLoop } from './push-loop.js';
import { StreamWriter, type WritableCall } from './stream-writer.js';
import {
  adsServiceDefinition, structToObject, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse,
} from './service.js';

/** A request of either protocol, as far as the server looks at it. */
type AnyRequest = DiscoveryRequest | DeltaDiscoveryRequest;
type AnyResponse = DiscoveryResponse | DeltaDiscoveryResponse;
type AnyCall = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse> | grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

export type { ProxySyncStatus } from './connection.js';
export type { PushRequest } from './debounce.js';

/** What one (debounced, merged) push did. */
export interface PushSummary {
  reason: string;
  /** Connected proxies the push request affected (their resources were regenerated). */
  affected: number;
  /** Proxies that were sent at least one response (the others had nothing new). */
  proxies: number;
  /** DiscoveryResponses written. */
  responses: number;
  /** Affected proxies updated by the endpoint-only path (only ClusterLoadAssignments rebuilt). */
  endpointOnly?: number;
}

export interface XdsServerOptions {
  generate(proxy: ProxyInfo): XdsResources;
  /**
   * Optional fast path for endpoint-only pushes (PushRequest.endpoints): given the proxy's current
   * clusters, the ClusterLoadAssignments to replace among its current resources, or undefined to
   * translate in full.
   */
  generateEndpoints?(proxy: ProxyInfo, clusters: readonly NamedResource[], change: NonNullable<PushRequest['endpoints']>): XdsResources['endpoints'] | undefined;
  logger: Logger;
  metrics: Metrics;
  /** Quiet period before a push (default 100 ms). */
  debounceMs?: number;
  /** Longest a push may be delayed by a stream of changes (default 10 s). */
  debounceMaxMs?: number;
  /** Clock for the debouncer (tests). */
  clock?: DebounceClock;
  /**
   * Proxies regenerated and written to between two turns of the event loop during a push (default
   * 100, as Istio's PILOT_PUSH_THROTTLE): between batches gRPC flushes what was written and
   * proxies' ACKs are read, so the first proxies are updated while the push goes on.
   */
  pushConcurrency?: number;
}

/** How one listening address is secured: TLS with meshpilot's serving certificate, bearer tokens. */
export interface XdsListenerSecurity {
  tls: { certPem: Buffer; keyPem: Buffer };
  /** Every stream must present a token this accepts; the proxy's namespace comes from it. */
  authenticator: XdsAuthenticator;
}

export class XdsServer {
  /** The plaintext server (all plaintext addresses share it). */
  private server?: grpc.Server;
  /** One server per secure address (the handler must know how the stream came in). */
  private secureServers: grpc.Server[] = [];
  private readonly connections = new Map<number, XdsStream>();
  private readonly cache = new EncodeCache();
  private readonly debouncer: Debouncer;
  private nextStreamId = 0;
  private pushWaiters: Array<(s: PushSummary) => void> = [];
  private readonly nacks = new NackWatch();
  private readonly writers = new Map<number, StreamWriter<AnyResponse>>();
  private readonly pushes: PushLoop<PushSummary>;

  constructor(private readonly opts: XdsServerOptions) {
    this.pushes = new PushLoop(
      opts.pushConcurrency ?? 100, (req, queuedAt) => this.pushTargets(req, queuedAt), (summary) => this.pushDone(summary),
      (err) => opts.logger.error({ err }, 'push to one proxy failed'),
    );
    this.debouncer = new Debouncer(opts.debounceMs ?? 100, opts.debounceMaxMs ?? 10_000, (req, queuedAt) => this.pushes.start(req, queuedAt), opts.clock);
    opts.metrics.currentNacks = () => this.nackedCounts();
    opts.metrics.currentSendQueues = () => this.sendQueues();
  }

  /** Streams whose transport is backed up, and the responses queued for them (metrics). */
  sendQueues(): { blockedStreams: number; queuedResponses: number } {
    let blockedStreams = 0;
    let queuedResponses = 0;
    for (const w of this.writers.values()) {
      if (w.blocked) blockedStreams++;
      queuedResponses += w.queued();
    }
    return { blockedStreams, queuedResponses };
  }

  /** Per type, how many connected proxies have their latest response of that type rejected. */
  nackedCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.syncStatus()) {
      for (const [kind, t] of Object.entries(p.types)) if (syncStateOf(t) === 'NACKED') out[kind] = (out[kind] ?? 0) + 1;
    }
    return out;
  }

  /**
   * Starts serving on `host:port` (port 0 = any free port) or `unix:///path`; returns the bound
   * address. May be called several times to serve on several addresses.
   */
  async listen(address: string, security?: XdsListenerSecurity): Promise<string> {
    const s = security ? this.newServer(security) : (this.server ??= this.newServer());
    if (security) this.secureServers.push(s);
    if (address.startsWith('unix:')) await removeStaleSocket(socketPath(address));
    const creds = security
      ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: security.tls.certPem, private_key: security.tls.keyPem }], false)
      : grpc.ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) => {
      s.bindAsync(address, creds, (err, p) => (err ? reject(new Error(`xDS server: cannot listen on ${address}: ${err.message}`)) : resolve(p)));
    });
    if (address.startsWith('unix:')) {
      // Proxies run as their own user (uid 1337): let them connect to the socket.
      chmodSync(socketPath(address), 0o777);
    }
    const bound = address.startsWith('unix:') ? address : `${address.slice(0, address.lastIndexOf(':'))}:${port}`;
    this.opts.logger.info({ address: bound, tls: !!security, auth: security?.authenticator.kind }, 'xDS server listening');
    return bound;
  }

  private newServer(security?: XdsListenerSecurity): grpc.Server {
    const server = new grpc.Server({ 'grpc.max_send_message_length': 64 * 1024 * 1024, 'grpc.keepalive_time_ms': 30_000 });
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
        const id = ++this.nextStreamId;
        const writer = this.newWriter(id, call, 'sotw');
        const conn = new AdsConnection(id, (res) => writer.write(res), this.cache, this.opts.logger, this.opts.metrics);
        this.onStream(call, conn, (req) => conn.onRequest(req as DiscoveryRequest), security);
      },
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) => {
        const id = ++this.nextStreamId;
        const writer = this.newWriter(id, call, 'delta');
        const conn = new DeltaConnection(id, (res) => writer.write(res), this.cache, this.opts.logger, this.opts.metrics);
        this.onStream(call, conn, (req) => conn.onRequest(req as DeltaDiscoveryRequest), security);
      },
    });
    // CSDS reveals configuration: served on plaintext (local, trusted) addresses only.
    if (!security) {
      server.addService(csdsServiceDefinition(), {
        FetchClientStatus: (call: grpc.ServerUnaryCall<ClientStatusRequest, ClientStatusResponse>, cb: grpc.sendUnaryData<ClientStatusResponse>) => {
          try {
            cb(null, clientStatus([...this.connections.values()], call.request, this.cache));
          } catch (err) {
            this.opts.logger.error({ err }, 'CSDS request failed');
            cb({ code: grpc.status.INTERNAL, details: `meshpilot: ${(err as Error).message}` });
          }
        },
        StreamClientStatus: (call: grpc.ServerDuplexStream<ClientStatusRequest, ClientStatusResponse>) => {
          serveClientStatusStream(call, (req) => clientStatus([...this.connections.values()], req, this.cache), this.opts.logger);
        },
      });
    }
    return server;
  }

  /** Asks for a push; merged with others and debounced. */
  requestPush(req: PushRequest): void {
    this.debouncer.request(req);
  }

  /** Calls `listener` whenever the set of resources some connected proxy rejects changes; returns an unsubscribe. */
  onNackChange(listener: () => void): () => void {
    return this.nacks.subscribe(listener);
  }

  /**
   * Responses to one stream go through a StreamWriter: when gRPC's buffer for it is full, pushes
   * are deferred and merged until it drains (see stream-writer.ts).
   */
  private newWriter(id: number, call: AnyCall, protocol: 'sotw' | 'delta'): StreamWriter<AnyResponse> {
    const log = this.opts.logger;
    const writer = new StreamWriter<AnyResponse>(call as unknown as WritableCall<AnyResponse>, {
      protocol,
      onWritable: () => {
        const conn = this.connections.get(id);
        try {
          if (conn?.proxy) conn.pushAll();
        } catch (err) {
          log.error({ err, proxy: conn?.proxy?.id, stream: id }, 'deferred push failed');
        }
      },
      onOverflow: (held) => {
        const conn = this.connections.get(id);
        log.warn({ proxy: conn?.proxy?.id, stream: id, held }, 'ending a delta stream that does not read its responses');
        this.writers.delete(id);
        call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `meshpilot: ${held} responses waiting; the stream is not being read` });
        conn?.end?.();
      },
      onBlocked: (blocked) => {
        log.debug({ stream: id, proxy: this.connections.get(id)?.proxy?.id, blocked }, blocked ? 'stream backed up; deferring pushes' : 'stream drained');
      },
    });
    this.writers.set(id, writer);
    return writer;
  }

  /** Resolves with the summary of the next push that runs (for tests and tools awaiting a push). */
  nextPush(): Promise<PushSummary> {
    return new Promise((resolve) => this.pushWaiters.push(resolve));
  }

  syncStatus(): ProxySyncStatus[] {
    return [...this.connections.values()].filter((c) => c.proxy).map((c) => c.status()).sort((a, b) => compareStrings(a.id, b.id));
  }

  /** Sync status of the connected proxies that currently reject something (cheap: only those are looked at). */
  rejectingProxies(): ProxySyncStatus[] {
    return this.nacks.streamIds().flatMap((id) => {
      const c = this.connections.get(id);
      return c?.proxy ? [c.status()] : [];
    });
  }

  connectedProxies(): ProxyInfo[] {
    return [...this.connections.values()].flatMap((c) => (c.proxy ? [c.proxy] : []));
  }

  /** What was last generated for a connected proxy. */
  resourcesFor(proxyId: string): XdsResources | undefined {
    for (const c of this.connections.values()) if (c.proxy?.id === proxyId) return c.currentResources();
    return undefined;
  }

  async close(): Promise<void> {
    this.debouncer.cancel();
    this.pushes.stop();
    const servers = [...(this.server ? [this.server] : []), ...this.secureServers];
    this.server = undefined;
    this.secureServers = [];
    if (servers.length === 0) return;
    // Open ADS streams never end on their own: end them so shutdown can finish.
    for (const c of this.connections.values()) c.end?.();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
      const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
      server.tryShutdown(() => { clearTimeout(t); resolve(); });
    })));
    this.connections.clear();
  }

  private generateFor(conn: XdsStream, endpoints?: PushRequest['endpoints'], summary?: PushSummary): boolean {
    if (!conn.proxy) return false;
    try {
      if (regenerate(conn, conn.proxy, this.opts, endpoints) === 'endpoints' && summary) summary.endpointOnly = (summary.endpointOnly ?? 0) + 1;
      return true;
    } catch (err) {
      this.opts.logger.error({ err, proxy: conn.proxy.id }, 'translation failed; keeping the previous configuration');
      return false;
    }
  }

  /**
   * The connections a push request affects, each as a step that regenerates its resources and
   * writes what changed (run by the PushLoop in batches). A connection that is gone by the time its
   * turn comes is skipped; one whose stream is backed up gets new resources but is written to only
   * once it drains (the latest state, once).
   */
  private pushTargets(req: PushRequest, queuedAt: number): { summary: PushSummary; steps: Array<() => void> } {
    const summary: PushSummary = { reason: req.reason, affected: 0, proxies: 0, responses: 0 };
    const steps: Array<() => void> = [];
    for (const conn of this.connections.values()) {
      if (!conn.proxy) continue;
      if (req.affects && !req.affects(conn.proxy)) continue;
      steps.push(() => {
        if (this.connections.get(conn.streamId) !== conn) return;
        summary.affected++;
        if (!this.generateFor(conn, req.endpoints, summary)) return;
        const writer = this.writers.get(conn.streamId);
        if (writer?.blocked) {
          writer.markDirty();
          return;
        }
        const sent = conn.pushAll();
        if (sent > 0) {
          summary.proxies++;
          summary.responses += sent;
          this.opts.metrics.pushLatency.observe((performance.now() - queuedAt) / 1000);
        }
      });
    }
    return { summary, steps };
  }

  private pushDone(summary: PushSummary): void {
    this.opts.logger.info(summary, 'push');
    const waiters = this.pushWaiters;
    this.pushWaiters = [];
    for (const w of waiters) w(summary);
  }

  /** One stream of either protocol: authentication, the node on the first message, then the connection's own handling. */
  private onStream(call: AnyCall, conn: XdsStream, onRequest: (req: AnyRequest) => void, security?: XdsListenerSecurity): void {
    const id = conn.streamId;
    const log = this.opts.logger;
    conn.end = () => call.end();
    conn.onNackChange = () => this.nacks.check(conn);
    this.connections.set(id, conn);
    const cleanup = () => {
      this.writers.get(id)?.close();
      this.writers.delete(id);
      if (!this.connections.delete(id)) return;
      this.nacks.forget(id);
      if (conn.proxy) {
        this.opts.metrics.connectedProxies.dec();
        log.info({ proxy: conn.proxy.id, stream: id }, 'proxy disconnected');
      }
    };
    let rejected = false;
    const reject = (code: grpc.status, message: string, fields: Record<string, unknown>) => {
      log.warn({ ...fields, stream: id }, `rejecting stream: ${message}`);
      rejected = true;
      call.emit('error', { code, details: `meshpilot: ${message}` });
      cleanup();
    };
    let identity: ProxyIdentity | undefined;
    const handle = (req: AnyRequest) => {
      if (rejected) return;
      try {
        if (!conn.proxy) {
          const nodeId = req.node?.id ?? '';
          const parsed = parseNodeId(nodeId, structToObject(req.node?.metadata));
          if (!parsed.ok) return reject(grpc.status.INVALID_ARGUMENT, parsed.error, { nodeId });
          const mismatch = identity && identityMismatch(parsed.value.namespace, identity);
          if (mismatch) return reject(grpc.status.PERMISSION_DENIED, mismatch, { nodeId });
          conn.proxy = parsed.value;
          this.opts.metrics.connectedProxies.inc();
          log.info({ proxy: conn.proxy.id, stream: id, labels: conn.proxy.labels, identity }, 'proxy connected');
          this.generateFor(conn);
        }
        this.checkSecretRequest(conn, req.typeUrl, 'resourceNames' in req ? req.resourceNames : (req as DeltaDiscoveryRequest).resourceNamesSubscribe);
        onRequest(req);
        if (req.errorDetail || this.nacks.has(id)) this.nacks.check(conn);
      } catch (err) {
        log.error({ err, stream: id }, 'failed to handle a discovery request');
      }
    };
    if (security) {
      // Requests wait (in order) until the token has been checked.
      let queue: Promise<void> = this.authenticate(call, security.authenticator).then(
        (result) => {
          if (result instanceof Error) reject(grpc.status.UNAUTHENTICATED, result.message, { auth: security.authenticator.kind });
          else identity = result;
        },
      );
      call.on('data', (req: AnyRequest) => { queue = queue.then(() => handle(req)); });
    } else {
      call.on('data', handle);
    }
    call.on('end', () => { cleanup(); call.end(); });
    call.on('error', (err) => { log.debug({ err: String(err), stream: id }, 'stream error'); cleanup(); });
    call.on('cancelled', cleanup);
    call.on('close', cleanup);
  }

  private async authenticate(call: AnyCall, auth: XdsAuthenticator): Promise<ProxyIdentity | Error> {
    const token = bearerToken(call.metadata);
    if (!token) return new Error('no bearer token (metadata "authorization: Bearer TOKEN")');
    try {
      return await auth.authenticate(token);
    } catch (err) {
      return new Error(`authentication failed: ${(err as Error).message}`);
    }
  }

  /**
   * A proxy is only ever given Secrets of its own namespace (`kubernetes://NAME`); a request for
   * another namespace's (`kubernetes://NS/NAME`) or for any other kind of name it was not given is
   * refused — nothing is served for it — and logged. Own-namespace names that do not exist yet are
   * not refusals: the proxy waits for them, as with Istio.
   */
  private checkSecretRequest(conn: XdsStream, typeUrl: string | undefined, names: string[] | undefined): void {
    if (typeUrl !== TYPE_URLS.secrets || !names?.length || !conn.proxy) return;
    const given = new Set((conn.currentOf('secrets') ?? []).map((s) => s.name));
    const refused = names.filter((n) => !given.has(n) && !/^kubernetes:\/\/[^/]+$/.test(n));
    if (refused.length === 0) return;
    this.opts.metrics.refusedSecrets.inc(refused.length);
    this.opts.logger.warn({ proxy: conn.proxy.id, namespace: conn.proxy.namespace, refused: refused.slice(0, 10) }, 'refused Secret request: not the proxy\'s to read');
  }
}

/**
 * Gives a connected proxy its resources for a push: on an endpoint-only push, only the
 * ClusterLoadAssignments the generator rebuilt, replaced by name (the cost of the change, not of
 * the proxy's configuration); else a full generation. Returns which it was.
 */
export function regenerate(
  conn: XdsStream, proxy: ProxyInfo, gen: Pick<XdsServerOptions, 'generate' | 'generateEndpoints'>, endpoints?: PushRequest['endpoints'],
): 'endpoints' | 'full' {
  const clusters = endpoints && conn.currentOf('clusters');
  const updated = clusters && gen.generateEndpoints?.(proxy, clusters, endpoints);
  if (updated) {
    conn.updateResources('endpoints', updated);
    return 'endpoints';
  }
  conn.setResources(gen.generate(proxy));
  return 'full';
}

function socketPath(address: string): string {
  return address.replace(/^unix:(\/\/)?/, '');
}

/** A socket file left behind by a process that died is removed; one somebody listens on is kept (bind then fails). */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) return;
  } catch {
    return;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const sock = connect(path);
    const t = setTimeout(() => { sock.destroy(); resolve(true); }, 500);
    sock.once('connect', () => { clearTimeout(t); sock.destroy(); resolve(true); });
    sock.once('error', () => { clearTimeout(t); resolve(false); });
  });
  if (!alive) unlinkSync(path);
}
