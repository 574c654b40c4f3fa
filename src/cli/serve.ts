import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { startWebhookServer } from '../admin/webhook.js';
import { KubeSource, type StatusReport } from '../sources/kube/kube-source.js';
import { LeaderElector } from '../sources/kube/leader.js';
import { KubeRest } from '../sources/kube/rest.js';
import { ReconciledStatus } from '../sources/kube/reconciled-status.js';
import { mergeRejections, RejectionReports } from '../sources/kube/rejection-reports.js';
import { StatusWriter } from '../sources/kube/status.js';
import { startAdminServer, type AdminServer } from '../admin/server.js';
import { createMetrics, type Metrics } from '../admin/metrics.js';
import { createLogger, type Logger } from '../log.js';
import { Registry } from '../registry/store.js';
import { FileSource } from '../sources/file/file-source.js';
import { rejectionsByObject } from '../xds/provenance.js';
import { proxyNeedsPush } from '../xds/push-scope.js';
import { TokenFileAuthenticator, TokenReviewAuthenticator, type XdsAuthenticator } from '../xds/auth.js';
import { XdsServer } from '../xds/server.js';
import { proxyGenerators } from './proxy-generators.js';
import { redactSecretData, redactSecrets } from './translate.js';

export interface ServeOptions {
  /** File mode: a folder of YAML. */
  configDir?: string;
  /** Kubernetes mode: a kubeconfig path, or 'in-cluster'. */
  kubeconfig?: string;
  /** HTTPS admission webhook (Kubernetes mode): address, certificate and key files. */
  webhook?: { address: string; certFile: string; keyFile: string };
  /** Leader election (Kubernetes mode): the Lease's namespace and this replica's identity. */
  leaderElection?: { namespace: string; identity: string; leaseDurationSeconds?: number };
  xdsAddress: string;
  /**
   * Secure xDS: TLS with this serving certificate on `address`, every stream authenticated by a
   * bearer token — a ServiceAccount token checked with TokenReview in Kubernetes mode, a token file
   * (`tokens: [{token, namespace, serviceAccount}]`) in file mode.
   */
  secureXds?: { address: string; certFile: string; keyFile: string; tokenFile?: string };
  adminAddress: string;
  logger?: Logger;
  metrics?: Metrics;
  debounceMs?: number;
  /** Longest a stream of changes may delay a push (default 10 s). */
  debounceMaxMs?: number;
  /** Proxies pushed to between two turns of the event loop (default 100). */
  pushConcurrency?: number;
  watch?: boolean;
}

export interface RunningServer {
  xdsAddress: string;
  /** The secure xDS address, when serving one. */
  secureXdsAddress?: string;
  adminAddress: string;
  registry: Registry;
  xds: XdsServer;
  stop(): Promise<void>;
}

/** Wires file source → registry → translator → ADS server, plus the admin endpoints. */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger();
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: true });
  const registry = new Registry();
  let ready = false;

  const xds = new XdsServer({
    ...proxyGenerators(registry, logger),
    logger,
    metrics,
    debounceMs: opts.debounceMs,
    debounceMaxMs: opts.debounceMaxMs,
    pushConcurrency: opts.pushConcurrency,
  });
  const admin: AdminServer = await startAdminServer(opts.adminAddress, {
    metrics,
    isReady: () => ready,
    // Secrets' values (private keys) never leave the process: their keys are listed, values redacted.
    configz: () => registry.objects().map((o) => (o.kind === 'Secret' ? redactSecretData(o) : o)),
    syncz: () => xds.syncStatus(),
    // What the proxy was last given, not a fresh translation: no extra work, and the truth.
    proxyConfig: (id) => {
      const resources = xds.resourcesFor(id);
      return resources ? redactSecrets(resources) : undefined;
    },
  }, logger);

  let authenticator: XdsAuthenticator | undefined;
  let source: { stop(): Promise<void> };
  const extraStops: Array<() => Promise<void>> = [];
  if (opts.kubeconfig) {
    const kc = new KubeConfig();
    if (opts.kubeconfig === 'in-cluster') kc.loadFromCluster();
    else kc.loadFromFile(opts.kubeconfig);
    const rest = new KubeRest(kc);
    if (opts.secureXds && !opts.secureXds.tokenFile) authenticator = new TokenReviewAuthenticator(rest);
    let elector: LeaderElector | undefined;
    const statusWriter = new StatusWriter(rest, logger, () => elector?.isLeader() ?? true);
    // What connected proxies reject, traced back to the objects it came from, in their status.
    // With several replicas, each publishes its proxies' rejections and the leader adds the others' to its own.
    const localRejections = () => rejectionsByObject(xds.rejectingProxies(), (id) => xds.resourcesFor(id));
    let reports: RejectionReports | undefined;
    const reconciled = new ReconciledStatus({ rest, logger, isLeader: () => elector?.isLeader() ?? true, rejections: () => (reports ? mergeRejections(localRejections(), reports.remote()) : localRejections()) });
    const unwatchNacks = xds.onNackChange(() => { reconciled.changed(); reports?.localChanged(); });
    extraStops.push(async () => { unwatchNacks(); reconciled.stop(); await reports?.stop(); });
    const lastReports = new Map<string, StatusReport>();
    const kube = new KubeSource({
      kubeConfig: kc, rest, registry, logger, metrics,
      onIstioObject: (report) => {
        const m = report.object.metadata as { namespace?: string; name?: string };
        lastReports.set(`${report.kind.kind}/${m.namespace}/${m.name}`, report);
        reconciled.observe(report.kind.kind, report.object);
        statusWriter.write(report).catch((err: unknown) => logger.warn({ err: String(err) }, 'status write failed'));
      },
    });
    if (opts.leaderElection) {
      elector = new LeaderElector({
        rest, logger, ...opts.leaderElection,
        // A new leader (re)writes the status of everything it has seen.
        onChange: (leader) => {
          if (!leader) return;
          for (const r of lastReports.values()) statusWriter.write(r).catch(() => undefined);
          reconciled.changed();
        },
      });
      elector.start();
      extraStops.push(() => elector!.stop());
      reports = new RejectionReports({ rest, logger, namespace: opts.leaderElection.namespace, identity: opts.leaderElection.identity, local: localRejections, isLeader: () => elector?.isLeader() ?? false, onRemoteChange: () => reconciled.changed() });
      reports.start();
    }
    await kube.start();
    source = kube;
    if (opts.webhook) {
      const wh = await startWebhookServer(opts.webhook.address, opts.webhook.certFile, opts.webhook.keyFile, logger);
      extraStops.push(() => wh.close());
    }
  } else if (opts.configDir) {
    const files = new FileSource({ dir: opts.configDir, registry, logger, metrics, watch: opts.watch ?? true });
    await files.start();
    source = files;
  } else {
    await admin.close();
    throw new Error('serve needs --config-dir DIR or --kubeconfig PATH|in-cluster');
  }
  // Pushes start only after the source has synced, so no proxy ever sees a half-loaded registry.
  // Configuration problems that validation of single objects cannot see (e.g. a delegate that
  // does not fit its root): logged once when they appear.
  let knownNotes = new Set<string>();
  const reportNotes = () => {
    const notes = new Set(registry.snapshot().notes);
    for (const n of notes) if (!knownNotes.has(n)) logger.warn({ note: n }, `configuration problem: ${n}`);
    knownNotes = notes;
  };
  reportNotes();
  const unsubscribe = registry.onChange((change) => {
    reportNotes();
    xds.requestPush({
      reason: `registry version ${change.version}: ${change.keys.slice(0, 5).join(', ')}${change.keys.length > 5 ? ', ...' : ''}`,
      affects: (proxy) => proxyNeedsPush(change.keys, proxy),
      ...(change.endpoints ? { endpoints: change.endpoints } : {}),
    });
  });
  const xdsAddress = await xds.listen(opts.xdsAddress);
  let secureXdsAddress: string | undefined;
  if (opts.secureXds) {
    const sec = opts.secureXds;
    try {
      if (sec.tokenFile) authenticator = new TokenFileAuthenticator(sec.tokenFile);
      if (!authenticator) throw new Error('secure xDS needs --xds-token-file in file mode (Kubernetes mode uses TokenReview)');
      secureXdsAddress = await xds.listen(sec.address, { tls: { certPem: readFileSync(sec.certFile), keyPem: readFileSync(sec.keyFile) }, authenticator });
    } catch (err) {
      unsubscribe();
      await source.stop();
      await xds.close();
      await admin.close();
      throw err;
    }
  }
  ready = true;
  logger.info({ xdsAddress, secureXdsAddress, adminAddress: admin.address, configDir: opts.configDir, kubeconfig: opts.kubeconfig }, 'meshpilot serving');

  let stopped = false;
  return {
    xdsAddress,
    secureXdsAddress,
    adminAddress: admin.address,
    registry,
    xds,
    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      for (const stop of extraStops) await stop();
      await source.stop();
      await xds.close();
      await admin.close();
      logger.info('meshpilot stopped');
    },
  };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the control plane: watch a config folder and serve xDS to Envoy')
    .option('--config-dir <dir>', 'file mode: folder of Istio and Kubernetes YAML (watched)')
    .option('--kubeconfig <path>', "Kubernetes mode: kubeconfig file, or 'in-cluster'")
    .option('--webhook-address <addr>', 'Kubernetes mode: serve the validating admission webhook (HTTPS) here')
    .option('--webhook-cert <file>', 'webhook serving certificate (PEM)')
    .option('--webhook-key <file>', 'webhook serving key (PEM)')
    .option('--leader-election-namespace <ns>', 'Kubernetes mode: elect a status-writing leader with a Lease in this namespace')
    .option('--identity <id>', 'this replica in leader election (default: hostname-pid)')
    .option('--lease-duration <seconds>', 'leader election lease duration', '15')
    .option('--xds-address <addr>', 'gRPC ADS listen address, HOST:PORT or unix:///PATH', '127.0.0.1:15010')
    .option('--secure-xds-address <addr>', 'TLS xDS address with token authentication (needs --xds-tls-cert/--xds-tls-key)', '127.0.0.1:15012')
    .option('--xds-tls-cert <file>', "meshpilot's xDS serving certificate (PEM); enables the secure xDS address")
    .option('--xds-tls-key <file>', 'its private key (PEM)')
    .option('--xds-token-file <file>', 'file mode: accepted proxy tokens, YAML `tokens: [{token, namespace, serviceAccount}]`')
    .option('--admin-address <addr>', 'health, metrics and debug HTTP address', '127.0.0.1:15014')
    .option('--debounce <ms>', 'quiet period before a push, in milliseconds', '100')
    .option('--debounce-max <ms>', 'longest a stream of changes may delay a push, in milliseconds', '10000')
    .option('--push-concurrency <n>', 'proxies pushed to between two turns of the event loop (like PILOT_PUSH_THROTTLE)', '100')
    .action(async (opts: { configDir?: string; kubeconfig?: string; xdsAddress: string; adminAddress: string; debounce: string; debounceMax: string; pushConcurrency: string; webhookAddress?: string; webhookCert?: string; webhookKey?: string; leaderElectionNamespace?: string; identity?: string; leaseDuration: string; secureXdsAddress: string; xdsTlsCert?: string; xdsTlsKey?: string; xdsTokenFile?: string }) => {
      const logger = createLogger();
      if (!!opts.xdsTlsCert !== !!opts.xdsTlsKey) throw new Error('--xds-tls-cert and --xds-tls-key go together');
      if (opts.webhookAddress && (!opts.webhookCert || !opts.webhookKey)) throw new Error('--webhook-address needs --webhook-cert and --webhook-key');
      const server = await startServer({
        configDir: opts.configDir, kubeconfig: opts.kubeconfig, xdsAddress: opts.xdsAddress, adminAddress: opts.adminAddress, logger,
        debounceMs: nonNegativeInteger('--debounce', opts.debounce),
        debounceMaxMs: nonNegativeInteger('--debounce-max', opts.debounceMax),
        pushConcurrency: positiveInteger('--push-concurrency', opts.pushConcurrency),
        secureXds: opts.xdsTlsCert ? { address: opts.secureXdsAddress, certFile: opts.xdsTlsCert, keyFile: opts.xdsTlsKey!, tokenFile: opts.xdsTokenFile } : undefined,
        webhook: opts.webhookAddress ? { address: opts.webhookAddress, certFile: opts.webhookCert!, keyFile: opts.webhookKey! } : undefined,
        leaderElection: opts.leaderElectionNamespace ? { namespace: opts.leaderElectionNamespace, identity: opts.identity ?? `${hostname()}-${process.pid}`, leaseDurationSeconds: Number(opts.leaseDuration) } : undefined,
      });
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        server.stop().then(() => process.exit(0), (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        });
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });
}

function nonNegativeInteger(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`${flag} ${value}: expected a whole number of 0 or more`);
  return n;
}

function positiveInteger(flag: string, value: string): number {
  const n = nonNegativeInteger(flag, value);
  if (n === 0) throw new Error(`${flag} ${value}: expected a whole number of 1 or more`);
  return n;
}
