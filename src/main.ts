import { mintToken } from './auth.js';
import type { Broker } from './broker.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
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

async function createBroker(config: Config): Promise<Broker | undefined> {
  if (!config.redisUrl) return undefined;
  const path = './broker-redis.js'; // loaded only in Redis mode
  const mod = (await import(path)) as { createRedisBroker(c: Config): Promise<Broker> };
  return mod.createRedisBroker(config);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ssepush: configuration error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const broker = await createBroker(config);
  const server = new SsePushServer(config, { logger: log, ...(broker ? { broker } : {}) });
  const port = await server.listen();
  log.info({ port, host: config.host, backend: config.redisUrl ? 'redis' : 'memory' }, 'listening');
  if (config.demo) printDemo(config, port);

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
