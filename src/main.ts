// First: V8 flags must be set before the modules below allocate anything.
import './v8-flags.js';
import cluster from 'node:cluster';
import { mintToken } from './auth.js';
import { createRedisBroker } from './broker-redis.js';
import { isMainModule } from './cli/main-module.js';
import { runPrimary, workersFlag } from './cluster.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { createLogger, type Logger, prettyWanted } from './logger.js';
import { SsePushServer } from './server.js';

/** The uid the demo page connects as by default (public/index.html): the banner's push reaches it. */
export const DEMO_UID = 'demo';
/** The uid of the `$SUB` token the banner prints for the README examples. */
export const EXAMPLE_UID = '42';

/**
 * Demo mode only: a push command that shows on the demo page, and `export SUB=… PUB=…` for the
 * README's examples (the random secret itself is never printed).
 */
function printDemo(config: Config, port: number): void {
  const base = `http://127.0.0.1:${port}`;
  const page = mintToken(config, { sub: DEMO_UID, groups: ['news'], ttlSec: 86_400 });
  const sub = mintToken(config, { sub: EXAMPLE_UID, ttlSec: 86_400 });
  const pub = mintToken(config, { push: true, ttlSec: 86_400 });
  process.stdout.write(
    [
      '',
      'ssepush is running in demo mode: JWT_SECRET is not set, so a random secret was generated.',
      `  demo page (connects as uid "${DEMO_UID}"):  ${base}/`,
      `  push to uid "${DEMO_UID}" (it shows on the demo page):`,
      `    curl -X POST ${base}/push -H 'Authorization: Bearer ${pub}' -H 'Content-Type: application/json' -d '{"to":"${DEMO_UID}","data":{"text":"hello"}}'`,
      `  watch uid "${DEMO_UID}" in a terminal:`,
      `    curl -N '${base}/events?token=${page}'`,
      `  tokens for the README examples ($SUB: uid "${EXAMPLE_UID}", $PUB: publisher), valid 24 h:`,
      `    export SUB=${sub} PUB=${pub}`,
      `  more demo tokens: ${base}/demo/tokens?uid=${EXAMPLE_UID}`,
      'Set JWT_SECRET (and NODE_ENV=production) for a real deployment.',
      '',
    ].join('\n'),
  );
}

/** Resolves the configuration, or exits with a message that names the bad variable. */
function configure(args: readonly string[]): Config {
  try {
    workersFlag(args, process.env);
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ssepush: configuration error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function start(args: readonly string[]): Promise<void> {
  const config = configure(args);
  let log: Logger = createLogger(config.logLevel, {
    pretty: prettyWanted(config.production, process.stdout.isTTY === true),
  });
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config, log, (port) => config.demo && printDemo(config, port));
    return;
  }
  if (cluster.worker) {
    log = log.child({ worker: cluster.worker.id });
    // The primary went away (its IPC channel is closed): nothing to report to; keep draining.
    cluster.worker.on('error', (err: Error) => log.warn({ err: err.message }, 'primary unreachable'));
  }
  const broker = config.redis ? await createRedisBroker(config, log) : undefined;
  const server = new SsePushServer(config, { logger: log, ...(broker ? { broker } : {}) });
  const port = await server.listen();
  log.info({ port, host: config.host, backend: config.redis ? 'redis' : 'memory' }, 'listening');
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

/** `ssepush serve`: runs the server until SIGTERM/SIGINT; `args` may hold `--workers N`. */
export function serve(args: readonly string[]): void {
  start(args).catch((err: unknown) => {
    process.stderr.write(`ssepush: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

if (isMainModule(import.meta.url)) serve(process.argv.slice(2));
