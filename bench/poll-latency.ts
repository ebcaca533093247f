/**
 * Issue 16.7: an unrelated push's latency on Redis while `--pollers` clients loop on old-cursor
 * polls. A subscriber in `--groups` groups has `--per` messages of `--bytes` bytes in each; each
 * poller polls from the start of history again and again (reading every answer); meanwhile
 * `--pushes` pushes to another uid are timed one after another. Reports p50/p95 without and with
 * the pollers. `--root` runs another tree's server (to measure before a change).
 *
 *   npx tsx bench/poll-latency.ts [--pollers 4] [--groups 64] [--per 100] [--bytes 1024]
 *                                 [--pushes 200] [--root DIR]
 */
import { spawn } from 'node:child_process';
import { pubToken, ROOT, subToken, TEST_SECRET } from '../test/helpers.js';
import { startRedis } from '../test/redis-server.js';
import { parseArgs } from './lib/measure.js';

const args = parseArgs(process.argv.slice(2));
const POLLERS = Number(args.get('pollers') ?? 4);
const GROUPS = Number(args.get('groups') ?? 64);
const PER = Number(args.get('per') ?? 100);
const BYTES = Number(args.get('bytes') ?? 1024);
const PUSHES = Number(args.get('pushes') ?? 200);
const root = args.get('root') ?? ROOT;

const redis = await startRedis();
const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  cwd: root,
  env: {
    ...process.env,
    JWT_SECRET: TEST_SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
    REDIS_URL: redis.url,
    HISTORY_SIZE: String(Math.max(PER, 100)),
    MAX_CONNECTIONS_PER_UID: '0',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise<number>((resolve, reject) => {
  let out = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (c: string) => {
    out += c;
    const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(out);
    if (m) resolve(Number(m[1]));
    if (out.length > 1e5) out = out.slice(-1e4);
  });
  proc.once('exit', () => reject(new Error('server exited')));
});
const url = `http://127.0.0.1:${port}`;
const pub = pubToken();
const push = async (body: unknown) => {
  const res = await fetch(`${url}/push`, {
    method: 'POST',
    headers: { authorization: `Bearer ${pub}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as { id: string } | { id: string }[];
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;
const timePushes = async () => {
  const ms: number[] = [];
  for (let i = 0; i < PUSHES; i++) {
    const t = performance.now();
    await push({ to: 'bystander', data: i });
    ms.push(performance.now() - t);
  }
  return { p50: +pct(ms, 0.5).toFixed(2), p95: +pct(ms, 0.95).toFixed(2) };
};

let stop = false;
try {
  const groups = Array.from({ length: GROUPS }, (_, g) => `pg${g}`);
  const data = 'x'.repeat(BYTES);
  const first = (await push({ to: 'nobody', data: 0 })) as { id: string };
  for (let i = 0; i < PER; i++) {
    const r = await push(groups.map((g) => ({ group: [g], data })));
    if (!Array.isArray(r)) throw new Error(`push refused: ${JSON.stringify(r)}`);
  }
  const token = subToken('heavy', { groups });
  const quiet = await timePushes();
  let polls = 0;
  const loops = Array.from({ length: POLLERS }, async () => {
    while (!stop) {
      const res = await fetch(`${url}/poll?token=${token}&cursor=${encodeURIComponent(first.id)}`);
      await res.arrayBuffer();
      polls++;
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  const started = polls;
  const loaded = await timePushes();
  const during = polls - started;
  stop = true;
  await Promise.all(loops);
  console.log(
    JSON.stringify({
      pollers: POLLERS,
      groups: GROUPS,
      per: PER,
      bytes: BYTES,
      quiet,
      loaded,
      pollsDuring: during,
    }),
  );
} finally {
  stop = true;
  proc.kill('SIGKILL');
  await redis.close();
}
