import type { Command } from 'commander';
import { startAdminServer, type AdminServer } from '../admin/server.js';
import { createMetrics, type Metrics } from '../admin/metrics.js';
import { createLogger, type Logger } from '../log.js';
import { Registry } from '../registry/store.js';
import { FileSource } from '../sources/file/file-source.js';
import { translate } from '../translator/index.js';
import { proxyNeedsPush } from '../xds/push-scope.js';
import { XdsServer } from '../xds/server.js';
import { redactSecrets } from './translate.js';

export interface ServeOptions {
  configDir: string;
  xdsAddress: string;
  adminAddress: string;
  logger?: Logger;
  metrics?: Metrics;
  debounceMs?: number;
  watch?: boolean;
}

export interface RunningServer {
  xdsAddress: string;
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
    generate: (proxy) => translate(registry.snapshot(), proxy),
    logger,
    metrics,
    debounceMs: opts.debounceMs,
  });
  const admin: AdminServer = await startAdminServer(opts.adminAddress, {
    metrics,
    isReady: () => ready,
    configz: () => registry.objects(),
    syncz: () => xds.syncStatus(),
    proxyConfig: (id) => {
      const proxy = xds.connectedProxies().find((p) => p.id === id);
      return proxy ? redactSecrets(translate(registry.snapshot(), proxy)) : undefined;
    },
  }, logger);

  const source = new FileSource({ dir: opts.configDir, registry, logger, metrics, watch: opts.watch ?? true });
  await source.start();
  // Pushes start only after the source has synced, so no proxy ever sees a half-loaded registry.
  const unsubscribe = registry.onChange((change) => xds.requestPush({
    reason: `registry version ${change.version}: ${change.keys.slice(0, 5).join(', ')}${change.keys.length > 5 ? ', ...' : ''}`,
    affects: (proxy) => proxyNeedsPush(change.keys, proxy),
  }));
  const xdsAddress = await xds.listen(opts.xdsAddress);
  ready = true;
  logger.info({ xdsAddress, adminAddress: admin.address, configDir: opts.configDir }, 'meshpilot serving');

  let stopped = false;
  return {
    xdsAddress,
    adminAddress: admin.address,
    registry,
    xds,
    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe();
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
    .requiredOption('--config-dir <dir>', 'folder of Istio and Kubernetes YAML (watched)')
    .option('--xds-address <addr>', 'gRPC ADS listen address, HOST:PORT or unix:///PATH', '127.0.0.1:15010')
    .option('--admin-address <addr>', 'health, metrics and debug HTTP address', '127.0.0.1:15014')
    .option('--debounce <ms>', 'quiet period before a push, in milliseconds', '100')
    .action(async (opts: { configDir: string; xdsAddress: string; adminAddress: string; debounce: string }) => {
      const logger = createLogger();
      const server = await startServer({ ...opts, debounceMs: Number(opts.debounce), logger });
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
