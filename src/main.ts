import cluster from 'node:cluster';
import { mintToken } from './auth.js';
import { createRedisBroker } from './broker-redis.js';
import { runPrimary, workersFlag } from './cluster.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { SsePushServer } from './server.js';

/** Prints ready-to-use tokens and a curl command when running with a generated secret. */
function printDemo(config: Config, port: number): void {
  const base = `http://127.0.0.1:${port}`;
  const sub = mintToken(config, { sub: 'demo', groups: ['news'], ttlSec: 86_400 });
  const pub = mintToken(config, { push: true, ttlSec: 86_400 });
  process.stdout.write(
    [
      '',
      'ssepush is running in demo mode: JWT_SECRET is not set, so a random secret was generated.',
      `  demo page:        ${base}/`,
      `  subscribe (uid "demo", group "news"):`,
      `    curl -N '${base}/events?token=${sub}'`,
      `  push to uid "demo":`,
      `    curl -X POST ${base}/push -H 'Authorization: Bearer ${pub}' -H 'Content-Type: application/json' -d '{"to":"demo","data":{"text":"hello"}}'`,
      'Set JWT_SECRET (and NODE_ENV=production) for a real deployment.',
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  let config: Config;
  try {
    workersFlag(process.argv.slice(2), process.env);
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ssepush: configuration error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  let log: Logger = createLogger(config.logLevel);
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config, log, (port) => config.demo && printDemo(config, port));
    return;
  }
  if (cluster.worker) {
    log = log.child({ worker: cluster.worker.id });
    // The primary went away (its IPC channel is closed): nothing to report to; keep draining.
    cluster.worker.on('error', (err: Error) => log.warn({ err: err.message }, 'primary unreachable'));
  }
  const broker = config.redisUrl ? await createRedisBroker(config, log) : undefined;
  const server = new SsePushServer(config, { logger: log, ...(broker ? { broker } : {}) });
  const port = await server.listen();
  log.info({ port, host: config.host, backend: config.redisUrl ? 'redis' : 'memory' }, 'listening');
  if (config.demo && !cluster.worker) printDemo(config, port);
  // Transactional outbox (OUTBOX_URL): consumed once the server listens, stopped before it drains.
  await server.startOutbox();

  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), config.shutdownTimeoutSec * 1000 + 2000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`ssepush: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
