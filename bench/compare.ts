/**
 * Side-by-side benchmark of ssepush and Nchan: the same workloads against each, alternately
 * (Nchan, ssepush, Nchan, ssepush, …), each run on a fresh server; prints medians over the
 * pairs and the ratio ssepush/Nchan, then a scaling run (memory and broadcast time by N).
 *
 *   npm run bench:compare -- [--n 10000] [--pairs 3] [--scale 1000,5000,10000,18000] [--no-scale]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fmt, median, now, parseArgs } from './lib/measure.js';
import { ClientPool } from './lib/pool.js';
import { OUT, startNchan, startSsepush, type Target } from './lib/targets.js';
import { broadcast, openIdle, storm, unicast } from './lib/workloads.js';

const args = parseArgs(process.argv.slice(2));
const N = Number(args.get('n') ?? 10_000);
const PAIRS = Number(args.get('pairs') ?? 3);
const SCALE = args.has('no-scale')
  ? []
  : (args.get('scale') ?? '1000,5000,10000,18000').split(',').map((s) => Number(s.trim()));
const UNICAST = Number(args.get('unicast') ?? 5000);
const BATCH = Number(args.get('batch-msgs') ?? 20_000);
if (!(N > 0 && N <= 19_000) || SCALE.some((n) => !(n > 0 && n <= 19_000))) {
  throw new Error('connections: 1..19000 (ulimit -n is 20,000 per process)');
}

type Name = 'nchan' | 'ssepush';
type Metrics = Record<string, number>;

const start = (name: Name): Promise<Target> => (name === 'nchan' ? startNchan() : startSsepush());

/** One full run of every workload against a fresh server. */
async function run(name: Name): Promise<Metrics> {
  const t = await start(name);
  const pool = ClientPool.start(N);
  try {
    const m: Metrics = {};
    const idle = await openIdle(t, pool, N);
    if (idle.held < N) throw new Error(`${name}: only ${idle.held} of ${N} connections held`);
    m.rssKiB = idle.rssPerConn / 1024;
    if (idle.heapPerConn !== undefined) m.heapKiB = idle.heapPerConn / 1024;
    m.connectS = idle.openMs / 1000;
    m.connectCpu = idle.cpuUsPerConnect;
    const b = await broadcast(t, pool, N, 5);
    m.bcP50 = median(b.rounds.map((r) => r.p50));
    m.bcP99 = median(b.rounds.map((r) => r.p99));
    m.bcMax = median(b.rounds.map((r) => r.max));
    m.bcCpu = b.cpuUsPerDelivery;
    m.bcMissing = b.missing;
    const u = await unicast(t, pool, { uids: N, pushes: UNICAST, lanes: 16, batch: 1, kind: 'u' });
    m.uRps = u.requestsPerSec;
    m.uP50 = u.latency.p50;
    m.uP99 = u.latency.p99;
    m.uCpu = u.cpuUsPerDelivery;
    m.uMissing = u.missing;
    if (t.batches) {
      const v = await unicast(t, pool, { uids: N, pushes: BATCH, lanes: 4, batch: 100, kind: 'v' });
      m.vMps = v.messagesPerSec;
      m.vRps = v.requestsPerSec;
      m.vP50 = v.latency.p50;
      m.vP99 = v.latency.p99;
      m.vCpu = v.cpuUsPerDelivery;
      m.vMissing = v.missing;
    }
    const s = await storm(t, pool, N);
    m.sP50 = s.catchUp.p50;
    m.sMax = s.catchUp.max;
    m.sCaught = s.caughtUp;
    m.sLost = s.lost;
    m.sDup = s.duplicates;
    m.sReset = s.resets;
    return m;
  } finally {
    await pool.close();
    await t.stop();
  }
}

/** Memory per connection and broadcast time at one size. */
async function scale(name: Name, n: number): Promise<Metrics> {
  const t = await start(name);
  const pool = ClientPool.start(n);
  try {
    const idle = await openIdle(t, pool, n);
    const b = await broadcast(t, pool, n, 3);
    return {
      held: idle.held,
      rssKiB: idle.rssPerConn / 1024,
      ...(idle.heapPerConn !== undefined ? { heapKiB: idle.heapPerConn / 1024 } : {}),
      bcP50: median(b.rounds.map((r) => r.p50)),
      bcP99: median(b.rounds.map((r) => r.p99)),
      bcCpu: b.cpuUsPerDelivery,
      missing: b.missing,
    };
  } finally {
    await pool.close();
    await t.stop();
  }
}

interface Row {
  key: string;
  label: string;
  /** Where the Nchan figure comes from when Nchan lacks the feature (batch → single pushes). */
  nchanKey?: string;
  target?: { max: number; what: string };
}

const ROWS: Row[] = [
  { key: 'rssKiB', label: 'RSS per idle connection (KiB)', target: { max: 1.0, what: '≤ 1.0' } },
  { key: 'heapKiB', label: 'JS heap per idle connection (KiB)' },
  { key: 'connectS', label: `time to open ${N} subscriptions (s)` },
  { key: 'connectCpu', label: 'server CPU per new subscription (µs)' },
  { key: 'bcP50', label: `broadcast to ${N}: p50 (ms)` },
  { key: 'bcP99', label: `broadcast to ${N}: p99 (ms)`, target: { max: 1.0, what: '≤ 1.0' } },
  { key: 'bcMax', label: `broadcast to ${N}: max (ms)` },
  { key: 'bcCpu', label: 'broadcast: server CPU per delivery (µs)', target: { max: 1.0, what: '≤ 1.0' } },
  { key: 'uRps', label: `unicast, single pushes: requests/s (16 in flight)` },
  { key: 'uP50', label: 'unicast, single: latency p50 (ms)' },
  { key: 'uP99', label: 'unicast, single: latency p99 (ms)' },
  {
    key: 'uCpu',
    label: 'unicast, single: server CPU per delivery (µs)',
    target: { max: 1.5, what: '≤ 1.5' },
  },
  { key: 'vMps', label: 'unicast, batch of 100: messages/s (Nchan: single)', nchanKey: 'uRps' },
  { key: 'vP99', label: 'unicast, batch: latency p99 (ms) (Nchan: single)', nchanKey: 'uP99' },
  {
    key: 'vCpu',
    label: 'unicast, batch: server CPU per delivery (µs) (Nchan: single)',
    nchanKey: 'uCpu',
    target: { max: 1.0, what: '≤ 1.0' },
  },
  { key: 'sP50', label: `reconnect storm (${N} × 10 owed): catch-up p50 (ms)` },
  { key: 'sMax', label: 'reconnect storm: all caught up (ms)' },
  { key: 'sCaught', label: 'reconnect storm: clients caught up' },
  { key: 'sLost', label: 'reconnect storm: lost (must be 0)' },
  { key: 'sDup', label: 'reconnect storm: duplicated (must be 0)' },
  { key: 'sReset', label: 'reconnect storm: resets' },
  { key: 'bcMissing', label: 'broadcast: missing deliveries' },
  { key: 'uMissing', label: 'unicast: missing deliveries' },
];

function med(runs: Metrics[], key: string): number {
  return median(runs.map((r) => r[key]).filter((x): x is number => x !== undefined));
}

function range(runs: Metrics[], key: string): string {
  const v = runs.map((r) => r[key]).filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length < 2) return '';
  return ` (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})`;
}

function table(results: Record<Name, Metrics[]>): { md: string; verdicts: string[] } {
  const lines = ['| metric | Nchan | ssepush | ssepush/Nchan | target |', '|---|---:|---:|---:|---|'];
  const verdicts: string[] = [];
  for (const r of ROWS) {
    const nKey = r.nchanKey ?? r.key;
    const a = med(results.nchan, nKey);
    const b = med(results.ssepush, r.key);
    if (!Number.isFinite(a) && !Number.isFinite(b)) continue;
    const ratio = Number.isFinite(a) && Number.isFinite(b) && a !== 0 ? b / a : Number.NaN;
    let verdict = '';
    if (r.target && Number.isFinite(ratio)) {
      verdict = `${r.target.what}: ${ratio <= r.target.max ? 'met' : `missed by ${fmt((ratio / r.target.max - 1) * 100, 2)}%`}`;
      verdicts.push(`${r.label}: ratio ${fmt(ratio)} (${verdict})`);
    }
    lines.push(
      `| ${r.label} | ${fmt(a)}${range(results.nchan, nKey)} | ${fmt(b)}${range(results.ssepush, r.key)} | ${Number.isFinite(ratio) ? fmt(ratio) : '–'} | ${verdict} |`,
    );
  }
  return { md: lines.join('\n'), verdicts };
}

/**
 * Per-connection figures at each size, plus the marginal RSS per connection from the previous
 * size: one-off growth (JIT code, first heap pages) inflates the small sizes' averages, the
 * marginal cost shows whether memory grows linearly.
 */
function scaleTable(rows: { name: Name; n: number; m: Metrics }[]): string {
  const lines = [
    '| server | N | held | RSS/conn KiB | marginal RSS/conn KiB | heap/conn KiB | broadcast p50 ms | p99 ms | CPU µs/delivery | missing |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const prev = new Map<Name, { n: number; rss: number }>();
  for (const { name, n, m } of rows) {
    const rss = m.rssKiB! * n;
    const p = prev.get(name);
    const marginal = p && n > p.n ? fmt((rss - p.rss) / (n - p.n)) : '–';
    prev.set(name, { n, rss });
    lines.push(
      `| ${name} | ${n} | ${m.held} | ${fmt(m.rssKiB!)} | ${marginal} | ${m.heapKiB === undefined ? '–' : fmt(m.heapKiB)} | ${fmt(m.bcP50!)} | ${fmt(m.bcP99!)} | ${fmt(m.bcCpu!)} | ${m.missing} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const began = now();
  const stamp = new Date().toISOString();
  const results: Record<Name, Metrics[]> = { nchan: [], ssepush: [] };
  for (let p = 0; p < PAIRS; p++) {
    for (const name of ['nchan', 'ssepush'] as const) {
      const t0 = now();
      const m = await run(name);
      results[name].push(m);
      process.stderr.write(
        `pair ${p + 1}/${PAIRS} ${name} (${fmt((now() - t0) / 1000)} s): ${JSON.stringify(m)}\n`,
      );
    }
  }
  const scaled: { name: Name; n: number; m: Metrics }[] = [];
  for (const n of SCALE) {
    for (const name of ['nchan', 'ssepush'] as const) {
      const m = await scale(name, n);
      scaled.push({ name, n, m });
      process.stderr.write(`scale ${name} n=${n}: ${JSON.stringify(m)}\n`);
    }
  }
  const { md, verdicts } = table(results);
  const header = [
    `ssepush vs Nchan, ${stamp}, ${PAIRS} pairs (A B A B…), median (min–max) over runs`,
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; load clients on the same machine`,
    `command: npm run bench:compare -- ${process.argv.slice(2).join(' ')}`.trimEnd(),
  ].join('\n');
  const out = [
    header,
    '',
    md,
    '',
    ...verdicts.map((v) => `- ${v}`),
    '',
    ...(scaled.length ? ['Scaling (one run each):', '', scaleTable(scaled), ''] : []),
    `total time: ${fmt((now() - began) / 1000)} s`,
  ].join('\n');
  process.stdout.write(`\n${out}\n`);
  mkdirSync(OUT, { recursive: true });
  const base = `${OUT}/compare-${stamp.replace(/[:.]/g, '-')}`;
  writeFileSync(`${base}.md`, `${out}\n`);
  writeFileSync(`${base}.json`, JSON.stringify({ date: stamp, N, PAIRS, results, scaled }, null, 2));
  process.stdout.write(`raw: ${base}.json\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:compare failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
