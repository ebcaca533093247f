/**
 * Idle-connection benchmark: for each N, starts a fresh server, opens N idle SSE subscriptions
 * from separate load-client processes, reports RSS and heap per connection, then the time for
 * one broadcast to reach all N (p50/p99/max over subscribers, median over rounds).
 *
 *   npm run bench:idle -- --n 1000,10000 [--rounds 5] [--target ssepush|nchan|both]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fmt, median, parseArgs } from './lib/measure.js';
import { ClientPool } from './lib/pool.js';
import { OUT, startNchan, startSsepush, type Target } from './lib/targets.js';
import { broadcast, openIdle } from './lib/workloads.js';

const args = parseArgs(process.argv.slice(2));
const sizes = (args.get('n') ?? '1000,10000').split(',').map((s) => Number(s.trim()));
const rounds = Number(args.get('rounds') ?? 5);
const which = args.get('target') ?? 'ssepush';
const targets = which === 'both' ? ['ssepush', 'nchan'] : [which];
if (sizes.some((n) => !(n > 0 && n <= 19_000))) throw new Error('--n: 1..19000 connections each');
if (targets.some((t) => t !== 'ssepush' && t !== 'nchan'))
  throw new Error('--target: ssepush, nchan or both');

interface Row {
  target: string;
  n: number;
  held: number;
  rssKiB: number;
  heapKiB: number | undefined;
  openS: number;
  connectCpuUs: number;
  p50: number;
  p99: number;
  max: number;
  cpuUs: number;
  missing: number;
}

async function one(name: string, n: number): Promise<Row> {
  const t: Target = name === 'nchan' ? await startNchan() : await startSsepush();
  const pool = ClientPool.start(n);
  try {
    const idle = await openIdle(t, pool, n);
    const b = await broadcast(t, pool, n, rounds);
    return {
      target: name,
      n,
      held: idle.held,
      rssKiB: idle.rssPerConn / 1024,
      heapKiB: idle.heapPerConn === undefined ? undefined : idle.heapPerConn / 1024,
      openS: idle.openMs / 1000,
      connectCpuUs: idle.cpuUsPerConnect,
      p50: median(b.rounds.map((r) => r.p50)),
      p99: median(b.rounds.map((r) => r.p99)),
      max: median(b.rounds.map((r) => r.max)),
      cpuUs: b.cpuUsPerDelivery,
      missing: b.missing,
    };
  } finally {
    await pool.close();
    await t.stop();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const n of sizes) {
    for (const name of targets) {
      const row = await one(name, n);
      rows.push(row);
      process.stderr.write(`${name} n=${n}: ${JSON.stringify(row)}\n`);
    }
  }
  const lines = [
    `| server | N | held | RSS/conn KiB | heap/conn KiB | CPU µs/connect | broadcast p50 ms | p99 ms | max ms | CPU µs/delivery | missing |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.target} | ${r.n} | ${r.held} | ${fmt(r.rssKiB)} | ${r.heapKiB === undefined ? '–' : fmt(r.heapKiB)} | ${fmt(r.connectCpuUs)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${fmt(r.cpuUs)} | ${r.missing} |`,
    ),
  ];
  process.stdout.write(`\nidle connections, ${rounds} broadcasts each (median over broadcasts)\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(OUT, { recursive: true });
  const file = `${OUT}/idle-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), rounds, rows }, null, 2));
  process.stdout.write(`raw: ${file}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:idle failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
