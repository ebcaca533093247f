/**
 * Issue 16.7: the Redis time of one old-cursor replay, with and without a limit. A subscriber in
 * `--groups` groups, each holding `--per` messages of `--bytes` bytes, replays from the start of
 * the epoch (the oldest cursor there is). Reports the script's own time as Redis measured it
 * (SLOWLOG, microseconds), median of `--runs` calls, for limit 0 (everything) and `--limit`.
 *
 *   npx tsx bench/replay-limit.ts [--groups 64] [--per 100] [--bytes 1024] [--limit 100] [--runs 20]
 */
import { Redis } from 'ioredis';
import { RedisBroker } from '../src/broker-redis.js';
import { formatId, parseId } from '../src/ids.js';
import { streamsOfSubscriber } from '../src/message.js';
import { startRedis } from '../test/redis-server.js';
import { parseArgs } from './lib/measure.js';

const args = parseArgs(process.argv.slice(2));
const GROUPS = Number(args.get('groups') ?? 64);
const PER = Number(args.get('per') ?? 100);
const BYTES = Number(args.get('bytes') ?? 1024);
const LIMIT = Number(args.get('limit') ?? 100);
const RUNS = Number(args.get('runs') ?? 20);

const redis = await startRedis();
const pub = new Redis(redis.url);
const sub = new Redis(redis.url);
const admin = redis.client();
const broker = new RedisBroker({ pub, sub, size: Math.max(PER, 100), ttlMs: 0, maxStreams: 100_000 });
try {
  await broker.ready();
  const start = await broker.position();
  const groups = Array.from({ length: GROUPS }, (_, g) => `grp${g}`);
  const data = JSON.stringify('x'.repeat(BYTES));
  for (let i = 0; i < PER; i++) {
    await broker.publish(groups.map((g) => ({ to: [], groups: [g], event: 'message', data })));
  }
  const streams = streamsOfSubscriber('reader', groups);
  const epoch = parseId(start)!.epoch;
  await admin.config('SET', 'slowlog-log-slower-than', '0');
  await admin.config('SET', 'slowlog-max-len', '10000');
  const measure = async (limit: number) => {
    const us: number[] = [];
    let returned = 0;
    for (let r = 0; r < RUNS; r++) {
      await admin.slowlog('RESET');
      const rep = await broker.replay(streams, formatId(epoch, 0), limit > 0 ? { limit } : undefined);
      returned = rep.messages.length;
      const log = (await admin.slowlog('GET', 100)) as [number, number, number, string[]][];
      const evals = log.filter((e) => /^EVAL/i.test(String(e[3][0])));
      us.push(Math.max(...evals.map((e) => e[2])));
    }
    us.sort((a, b) => a - b);
    return { medianUs: us[us.length >> 1]!, maxUs: us[us.length - 1]!, returned };
  };
  const all = await measure(0);
  const limited = await measure(LIMIT);
  console.log(
    JSON.stringify({
      groups: GROUPS,
      per: PER,
      bytes: BYTES,
      runs: RUNS,
      unlimited: all,
      [`limit${LIMIT}`]: limited,
    }),
  );
} finally {
  await broker.close();
  pub.disconnect();
  sub.disconnect();
  await redis.close();
}
