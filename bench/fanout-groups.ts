/**
 * Fan-out CPU with runtime groups (a measurement, not a test): does it cost more to deliver to
 * connections whose groups changed at run time (`POST /groups`)? Two ssepush servers run side by
 * side in one run, each with N idle SSE connections (uid `u<i>`, one each), every one a member of
 * group `room` and of one of 50 groups `x-<i % 50>`:
 * - `tokens`: every connection has its groups from its token (no runtime groups at all);
 * - `runtime`: the first K uids' tokens lack `room`; they join `room`, `rt-a` and `rt-b` at run
 *   time, so K connections are regrouped live and K uids hold runtime-group entries.
 * Both receive the same pushes: broadcasts and pushes to `room` (N deliveries each). Rounds
 * alternate between the servers (and which goes first), so machine load hits both alike; the
 * first round of each kind is a warm-up and discarded. A round is `--pushes` pushes one after
 * another, each once the previous reached every connection; its CPU is the server process's
 * on-CPU time over the round (all its threads, `/proc/<pid>/task/<tid>/schedstat`, nanoseconds:
 * the 10 ms ticks of `/proc/<pid>/stat` are too coarse for one push) divided by the deliveries.
 * Heartbeats are pushed out of the window (HEARTBEAT_SECONDS=3600).
 *
 *   npm run bench:fanout-groups -- [--n 10000] [--runtime 1000] [--rounds 10] [--pushes 3]
 */

import { readdirSync, readFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import { fmt, median, now, parseArgs, sleep } from './lib/measure.js';
import { ClientPool } from './lib/pool.js';
import type { Payload } from './lib/protocol.js';
import { http, startSsepush, type Target } from './lib/targets.js';

const args = parseArgs(process.argv.slice(2));
const N = Number(args.get('n') ?? 10_000);
const K = Number(args.get('runtime') ?? 1000);
const ROUNDS = Number(args.get('rounds') ?? 10);
const PUSHES = Number(args.get('pushes') ?? 3);
if (!(N > 0 && N <= 19_000) || !(K >= 0 && K <= N)) throw new Error('--n 1..19000, --runtime 0..n');

const SECRET = 'bench-fanout-groups-secret-0123456789abcdef';
const sign = (claims: Record<string, unknown>) =>
  jwt.sign(claims, SECRET, { algorithm: 'HS256', expiresIn: 7200 });
const PUSH = `Bearer ${sign({ scope: 'push control' })}`;
const JSON_HEADERS = { 'content-type': 'application/json', authorization: PUSH };

/** On-CPU time of every thread of `pid` so far, in microseconds (ns resolution, see above). */
function cpuMicros(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1000;
}

interface Side {
  readonly label: string;
  readonly t: Target;
  readonly pool: ClientPool;
}

async function start(label: string, runtime: boolean, firstHost: number): Promise<Side> {
  const t = await startSsepush({
    name: label,
    env: { JWT_SECRET: SECRET, HEARTBEAT_SECONDS: '3600' },
  });
  const pool = ClientPool.start(N, 1, firstHost);
  const conns = Array.from({ length: N }, (_, i) => {
    const uid = `u${i}`;
    const groups = runtime && i < K ? [`x-${i % 50}`] : ['room', `x-${i % 50}`];
    return { uid, path: `/events?token=${sign({ sub: uid, groups })}` };
  });
  const opened = await pool.open(t.port, conns);
  if (opened.ok !== N)
    throw new Error(`${label}: opened ${opened.ok} of ${N}: ${JSON.stringify(opened.statuses)}`);
  if (runtime && K > 0) {
    for (let i = 0; i < K; i += 1000) {
      const uid = Array.from({ length: Math.min(1000, K - i) }, (_, j) => `u${i + j}`);
      const body = JSON.stringify({ uid, join: ['room', 'rt-a', 'rt-b'] });
      const r = await http(t.port, 'POST', '/groups', body, JSON_HEADERS);
      if (r.status !== 200) throw new Error(`${label}: POST /groups ${r.status} ${r.body}`);
    }
  }
  return { label, t, pool };
}

/** One push, resolved once every connection had it; the deliveries counted. */
async function one(s: Side, group: boolean, n: number): Promise<number> {
  const data: Payload = { k: group ? 'g' : 'b', n };
  const key = `${data.k}:${n}`;
  const body = JSON.stringify(group ? { group: 'room', data } : { data });
  const r = await http(s.t.port, 'POST', '/push', body, JSON_HEADERS);
  if (r.status !== 200) throw new Error(`${s.label}: push ${r.status} ${r.body}`);
  let got = 0;
  const deadline = now() + 15_000;
  while (got < N && now() < deadline) {
    const c = await s.pool.collect();
    got += c.recv.get(key)?.length ?? 0;
    if (got < N) await sleep(20);
  }
  return got;
}

/** `PUSHES` pushes in a row and their CPU per delivery. */
async function round(s: Side, group: boolean, r: number): Promise<{ cpuUs: number; missing: number }> {
  await sleep(100);
  const cpu0 = cpuMicros(s.t.pid);
  let got = 0;
  for (let i = 0; i < PUSHES; i++) got += await one(s, group, r * PUSHES + i);
  const cpu = cpuMicros(s.t.pid) - cpu0;
  return { cpuUs: cpu / Math.max(1, got), missing: PUSHES * N - got };
}

async function main(): Promise<void> {
  const sides = [await start('tokens', false, 1), await start('runtime', true, 11)];
  const cpu = new Map<string, number[]>();
  let missing = 0;
  try {
    for (let r = 0; r <= ROUNDS; r++) {
      for (const group of [false, true]) {
        const order = r % 2 === 0 ? sides : [...sides].reverse();
        for (const s of order) {
          const res = await round(s, group, r);
          missing += res.missing;
          if (r === 0) continue; // warm-up
          const key = `${s.label}/${group ? 'group' : 'broadcast'}`;
          cpu.set(key, [...(cpu.get(key) ?? []), res.cpuUs]);
        }
      }
    }
  } finally {
    for (const s of sides) {
      await s.pool.close();
      await s.t.stop();
    }
  }
  const lines = [
    `fan-out CPU per delivery, N = ${N} connections, ${K} uids with runtime groups (runtime side), ${ROUNDS} rounds of ${PUSHES} pushes after a warm-up round, medians over rounds`,
    "| push | tokens µs/delivery | runtime µs/delivery | runtime / tokens | ratio of the rounds' minimums |",
    '|---|---:|---:|---:|---:|',
  ];
  for (const kind of ['broadcast', 'group']) {
    const ta = cpu.get(`tokens/${kind}`) ?? [];
    const rb = cpu.get(`runtime/${kind}`) ?? [];
    const a = median(ta);
    const b = median(rb);
    const least = Math.min(...rb) / Math.min(...ta);
    const name = kind === 'group' ? 'group `room`' : 'broadcast';
    lines.push(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${fmt(b / a)} | ${fmt(least)} |`);
  }
  lines.push(`missing deliveries: ${missing}`);
  for (const [k, v] of cpu) lines.push(`${k}: ${v.map((x) => x.toFixed(1)).join(' ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:fanout-groups failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
