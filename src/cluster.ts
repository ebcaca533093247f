import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

/** A worker that dies sooner than this after its start counts as a crash loop. */
export const MIN_WORKER_UPTIME_MS = 5000;
/** Crash-loop restarts in a row before the primary gives up and exits. */
export const MAX_QUICK_RESTARTS = 5;

/**
 * `WORKERS=N`: this process becomes the primary of N workers that share the listening port
 * (Node's cluster module hands each new connection to a worker). The workers are ordinary
 * ssepush servers on one Redis, so they form one push server: the primary holds no state, only
 * restarts crashed workers and forwards SIGTERM/SIGINT for a graceful drain of each.
 */
export function runPrimary(config: Config, log: Logger, onListening?: (port: number) => void): void {
  const started = new Map<number, number>();
  let stopping = false;
  let quickRestarts = 0;

  // Demo mode: every worker must accept the tokens of the one generated secret.
  const env = config.demo ? { JWT_SECRET: config.jwtKey } : {};
  const fork = (): Worker => {
    const w = cluster.fork(env);
    started.set(w.id, Date.now());
    return w;
  };

  cluster.on('exit', (w, code, signal) => {
    const uptime = Date.now() - (started.get(w.id) ?? 0);
    started.delete(w.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    quickRestarts = uptime < MIN_WORKER_UPTIME_MS ? quickRestarts + 1 : 0;
    if (quickRestarts > MAX_QUICK_RESTARTS) {
      log.fatal({ code, signal }, 'workers keep crashing at start; giving up');
      process.exit(1);
    }
    log.warn({ worker: w.id, code, signal, uptime }, 'worker exited; starting a new one');
    fork();
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping workers');
    const force = setTimeout(() => process.exit(1), config.shutdownTimeoutSec * 1000 + 3000);
    force.unref();
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(0);
    for (const w of workers) w?.process.kill(signal);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  let announced = false;
  cluster.on('listening', (_w, address) => {
    if (announced) return;
    announced = true;
    onListening?.(address.port);
  });

  log.info({ workers: config.workers, pid: process.pid }, 'starting workers');
  for (let i = 0; i < config.workers; i++) fork();
}

/** Reads `--workers N` (or `--workers=N`) from argv into the `WORKERS` variable. */
export function workersFlag(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--workers' && argv[i + 1] !== undefined) env.WORKERS = argv[i + 1];
    else if (a.startsWith('--workers=')) env.WORKERS = a.slice('--workers='.length);
  }
}
