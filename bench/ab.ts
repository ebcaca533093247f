/**
 * A/B of per-operation server CPU on servers running side by side: every target is started once,
 * holds N idle streams, is warmed up, and then the measured rounds alternate between targets
 * (A, B, floor, A, B, floor, …) so all of them see the same machine load. Reports user and
 * system CPU apart (`/proc/<pid>/stat`), per unicast push and per new connection, medians and
 * ranges over the rounds. Meant for "did this cut help" on a shared machine, where a change of
 * a few µs drowns in the drift between two runs minutes apart.
 *
 *   SSEPUSH_BUILDS=base=bench/out/build-base npm run bench:ab -- [--targets ssepush-base,ssepush,floor]
 *     [--n 10000] [--rounds 6] [--pushes 5000] [--conns 1000] [--warm-pushes 10000]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { CLK_TCK, fmt, median, parseArgs, sleep } from './lib/measure.js';
import { ClientPool } from './lib/pool.js';
import { runMain } from './lib/side-by-side.js';
import { TARGETS, targetNames } from './lib/suite.js';
import type { Target } from './lib/targets.js';
import { openIdle, unicast } from './lib/workloads.js';

const args = parseArgs(process.argv.slice(2));
const names = targetNames(args.get('targets') ?? 'ssepush-base,ssepush,floor');
const N = Number(args.get('n') ?? 10_000);
const ROUNDS = Number(args.get('rounds') ?? 6);
const PUSHES = Number(args.get('pushes') ?? 5000);
const CONNS = Number(args.get('conns') ?? 1000);
const WARM_PUSHES = Number(args.get('warm-pushes') ?? 10_000);

/** User and system CPU of a process in µs. */
function cpu(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(rest[11]) * 1e6) / CLK_TCK, sys: (Number(rest[12]) * 1e6) / CLK_TCK };
}

interface Sample {
  user: number;
  sys: number;
}

/** Opens `n` new streams from a pool of its own, measures, and closes them again. */
async function connectRound(t: Target, n: number, tag: string, host: number): Promise<Sample> {
  const before = await t.connections();
  const pool = ClientPool.start(n, 1, host);
  try {
    const conns = Array.from({ length: n }, (_, i) => ({
      uid: `${tag}${i}`,
      path: t.subPath(`${tag}${i}`),
    }));
    const c0 = cpu(t.pid);
    const opened = await pool.open(t.port, conns);
    const deadline = Date.now() + 10_000;
    while ((await t.connections()) - before < opened.ok && Date.now() < deadline) await sleep(50);
    const c1 = cpu(t.pid);
    return { user: (c1.user - c0.user) / n, sys: (c1.sys - c0.sys) / n };
  } finally {
    await pool.close();
    const deadline = Date.now() + 10_000;
    while ((await t.connections()) > before && Date.now() < deadline) await sleep(100);
  }
}

async function pushRound(t: Target, pool: ClientPool, kind: string): Promise<Sample> {
  const c0 = cpu(t.pid);
  const r = await unicast(t, pool, { uids: N, pushes: PUSHES, lanes: 16, batch: 1, kind });
  const c1 = cpu(t.pid);
  if (r.missing > 0) throw new Error(`${t.name}: ${r.missing} pushes not delivered`);
  return { user: (c1.user - c0.user) / PUSHES, sys: (c1.sys - c0.sys) / PUSHES };
}

function line(label: string, xs: Sample[]): string {
  const tot = xs.map((x) => x.user + x.sys);
  const r = (v: number[]) => `${fmt(median(v))} (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})`;
  return `${label.padEnd(16)} total ${r(tot)}  user ${r(xs.map((x) => x.user))}  sys ${r(xs.map((x) => x.sys))}`;
}

runMain('bench:ab', async () => {
  const load0 = loadavg()[0]!;
  const targets: Target[] = [];
  const pools: ClientPool[] = [];
  const push: Record<string, Sample[]> = {};
  const conn: Record<string, Sample[]> = {};
  try {
    for (const [i, name] of names.entries()) {
      const t = await TARGETS[name]!();
      targets.push(t);
      // Pools of distinct targets connect from distinct source addresses (see SOURCE_NET).
      const pool = ClientPool.start(N, 1, 1 + i * 10);
      pools.push(pool);
      const idle = await openIdle(t, pool, N);
      if (idle.held < N) throw new Error(`${name}: only ${idle.held} of ${N} streams held`);
      await pushRound(t, pool, `warm-${name}`);
      if (WARM_PUSHES > PUSHES) await pushRound(t, pool, `warm2-${name}`);
      await connectRound(t, CONNS, 'w', 101 + i * 10);
      push[name] = [];
      conn[name] = [];
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const [i, t] of targets.entries()) {
        push[t.name]!.push(await pushRound(t, pools[i]!, `r${r}-${t.name}`));
        conn[t.name]!.push(await connectRound(t, CONNS, `c${r}-`, 101 + i * 10));
      }
      process.stdout.write(`round ${r + 1}/${ROUNDS} done, load ${fmt(loadavg()[0]!)}\n`);
    }
  } finally {
    for (const p of pools) await p.close();
    for (const t of targets) await t.stop();
  }
  const load1 = loadavg()[0]!;
  const out = [
    `bench:ab ${new Date().toISOString()} N=${N} rounds=${ROUNDS} pushes/round=${PUSHES} conns/round=${CONNS} load ${fmt(load0)} → ${fmt(load1)}`,
    'server CPU per warm unicast push (µs), median (min–max):',
    ...names.map((n) => line(n, push[n]!)),
    'server CPU per warm new connection (µs):',
    ...names.map((n) => line(n, conn[n]!)),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
});
