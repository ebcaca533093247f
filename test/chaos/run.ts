/**
 * The chaos checker as a command: `npm run chaos -- --ops 100000 --seed 7 [--history 16]`.
 * Boots an in-process server, runs the seeded operations, prints a summary; exits 1 (printing
 * the seed) on the first violation. `--redis` runs it on a throw-away redis-server (kept across
 * restarts); with `--outage-every N` every N-th operation is a Redis outage of `--outage-ms`
 * (default 3000) milliseconds.
 */
import { createRedisBroker } from '../../src/broker-redis.js';
import { startServer } from '../helpers.js';
import { startRedis, type TestRedis } from '../redis-server.js';
import { ChaosError, type ChaosOptions, runChaos } from './checker.js';
import { redisOutage } from './disruptions.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name} needs a whole number`);
  return v;
}

const ops = arg('ops', 10_000);
const seed = arg('seed', Date.now() % 1_000_000);
const historySize = arg('history', 16);
const outageEvery = arg('outage-every', 0);
const outageMs = arg('outage-ms', 3000);
const onRedis = process.argv.includes('--redis') || outageEvery > 0;
const redis: TestRedis | undefined = onRedis ? await startRedis({ persist: true }) : undefined;
const env = {
  HISTORY_SIZE: String(historySize),
  HISTORY_TTL_SECONDS: '0',
  HEARTBEAT_SECONDS: '1',
  ...(redis ? { REDIS_URL: redis.url } : {}),
};
const s = await startServer(env, redis ? createRedisBroker : undefined);
const disruptions: ChaosOptions['disruptions'] =
  redis && outageEvery > 0 ? { every: outageEvery, list: [redisOutage(redis, outageMs)] } : undefined;
const t0 = Date.now();
const flags = `${redis ? ' --redis' : ''}${outageEvery > 0 ? ` --outage-every ${outageEvery} --outage-ms ${outageMs}` : ''}`;
try {
  const stats = await runChaos(s, {
    ops,
    seed,
    historySize,
    ...(disruptions ? { disruptions } : {}),
    progress: (done, st) =>
      process.stdout.write(
        `  ${done} ops, ${st.messages} messages, ${st.resets} resets, ${st.replays} replays, ${st.disruptions} outages\n`,
      ),
  });
  process.stdout.write(
    `chaos OK: seed ${seed}${flags}, ${ops} operations in ${((Date.now() - t0) / 1000).toFixed(1)} s\n${JSON.stringify(stats, null, 2)}\n`,
  );
  await s.close();
  await redis?.close();
} catch (err) {
  await s.close();
  await redis?.close();
  process.stderr.write(
    `${err instanceof ChaosError ? err.message : String(err)}\nreproduce: npm run chaos -- --ops ${ops} --seed ${seed} --history ${historySize}${flags}\n`,
  );
  process.exit(1);
}
