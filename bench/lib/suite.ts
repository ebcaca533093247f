/**
 * The side-by-side suite behind `bench:compare` and `bench:floor`: named targets, one full run
 * of every workload against a fresh server, measured WARM (a discarded or separately reported
 * warm-up round on the same long-running server before each measured round), and the table.
 */
import { loadavg } from 'node:os';
import { fmt, median } from './measure.js';
import { ClientPool } from './pool.js';
import { startFloor, startNchan, startSsepush, type Target } from './targets.js';
import { broadcast, openIdle, storm, unicast, warmConnect } from './workloads.js';

/**
 * The targets a run can name: ssepush (the flag set as `src/v8-flags.ts` sets it), Nchan, the
 * bare `node:http` floor, and each Node one with V8's default allocation-site pretenuring
 * (`SSEPUSH_PRETENURING=1`), for the pretenuring experiment.
 */
export const TARGETS: Record<string, () => Promise<Target>> = {
  ssepush: () => startSsepush(),
  nchan: () => startNchan(),
  floor: () => startFloor(),
  'ssepush-pretenuring': () =>
    startSsepush({ name: 'ssepush-pretenuring', env: { SSEPUSH_PRETENURING: '1' } }),
  'floor-pretenuring': () => startFloor({ name: 'floor-pretenuring', env: { SSEPUSH_PRETENURING: '1' } }),
  ...extraBuilds(process.env.SSEPUSH_BUILDS),
};

/**
 * Other builds of `src/` to run side by side (A/B of a change in one session):
 * `SSEPUSH_BUILDS=base=bench/out/build-base,cut1=/tmp/b1` adds targets `ssepush-base`, `ssepush-cut1`.
 */
function extraBuilds(spec: string | undefined): Record<string, () => Promise<Target>> {
  const out: Record<string, () => Promise<Target>> = {};
  for (const entry of (spec ?? '').split(',').filter(Boolean)) {
    const [label, dir] = entry.split('=');
    if (!label || !dir) throw new Error(`SSEPUSH_BUILDS entry "${entry}" is not label=directory`);
    out[`ssepush-${label}`] = () => startSsepush({ name: `ssepush-${label}`, build: dir });
  }
  return out;
}

export function targetNames(list: string): string[] {
  const names = list.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(n in TARGETS)) throw new Error(`unknown target ${n} (known: ${Object.keys(TARGETS).join(', ')})`);
  }
  return names;
}

export type Metrics = Record<string, number>;

export interface SuiteOptions {
  readonly n: number;
  /** Connections of the warm-up batch, opened and closed before the measured N. */
  readonly warmConns: number;
  /** Single pushes per unicast round (the cold warm-up round and the measured one). */
  readonly unicast: number;
  /** Messages of the measured batch round (its warm-up round sends a quarter). */
  readonly batch: number;
  /** Run the reconnect storm (targets that replay only). */
  readonly storm: boolean;
}

const load1 = () => loadavg()[0]!;

/**
 * One full run against a fresh server. Order: warm-up connections (cold connect cost, then
 * closed), N measured connections (warm connect cost, memory), one discarded broadcast then 5
 * measured, a cold unicast round (reported apart) then the measured warm one, a discarded batch
 * round then the measured one, the reconnect storm.
 */
export async function runSuite(name: string, o: SuiteOptions): Promise<Metrics> {
  const m: Metrics = { loadBefore: load1() };
  const t = await TARGETS[name]!();
  const pool = ClientPool.start(o.n);
  try {
    if (o.warmConns > 0) {
      const w = await warmConnect(t, o.warmConns);
      if (w.held < o.warmConns)
        throw new Error(`${name}: only ${w.held} of ${o.warmConns} warm-up connections`);
      m.connectCpuCold = w.cpuUsPerConnect;
    }
    const idle = await openIdle(t, pool, o.n);
    if (idle.held < o.n) throw new Error(`${name}: only ${idle.held} of ${o.n} connections held`);
    m.rssKiB = idle.rssPerConn / 1024;
    if (idle.heapPerConn !== undefined) m.heapKiB = idle.heapPerConn / 1024;
    m.connectS = idle.openMs / 1000;
    m.connectCpu = idle.cpuUsPerConnect;
    await broadcast(t, pool, o.n, 1, 'c');
    const b = await broadcast(t, pool, o.n, 5);
    m.bcP50 = median(b.rounds.map((r) => r.p50));
    m.bcP99 = median(b.rounds.map((r) => r.p99));
    m.bcMax = median(b.rounds.map((r) => r.max));
    m.bcCpu = b.cpuUsPerDelivery;
    m.bcMissing = b.missing;
    const single = { uids: o.n, pushes: o.unicast, lanes: 16, batch: 1 };
    const cold = await unicast(t, pool, { ...single, kind: 'x' });
    m.uCpuCold = cold.cpuUsPerDelivery;
    const u = await unicast(t, pool, { ...single, kind: 'u' });
    m.uRps = u.requestsPerSec;
    m.uP50 = u.latency.p50;
    m.uP99 = u.latency.p99;
    m.uCpu = u.cpuUsPerDelivery;
    m.uMissing = u.missing + cold.missing;
    if (t.batches) {
      const many = { uids: o.n, lanes: 4, batch: 100 };
      await unicast(t, pool, { ...many, pushes: Math.ceil(o.batch / 4), kind: 'y' });
      const v = await unicast(t, pool, { ...many, pushes: o.batch, kind: 'v' });
      m.vMps = v.messagesPerSec;
      m.vRps = v.requestsPerSec;
      m.vP50 = v.latency.p50;
      m.vP99 = v.latency.p99;
      m.vCpu = v.cpuUsPerDelivery;
      m.vMissing = v.missing;
    }
    if (o.storm && t.replays) {
      const s = await storm(t, pool, o.n);
      m.sP50 = s.catchUp.p50;
      m.sMax = s.catchUp.max;
      m.sCaught = s.caughtUp;
      m.sLost = s.lost;
      m.sDup = s.duplicates;
      m.sReset = s.resets;
    }
    m.loadAfter = load1();
    return m;
  } finally {
    await pool.close();
    await t.stop();
  }
}

/** Memory per connection and broadcast time at one size (one discarded broadcast first). */
export async function scaleRun(name: string, n: number): Promise<Metrics> {
  const t = await TARGETS[name]!();
  const pool = ClientPool.start(n);
  try {
    const idle = await openIdle(t, pool, n);
    await broadcast(t, pool, n, 1, 'c');
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

export interface Row {
  key: string;
  label: string;
  /** Where the Nchan figure comes from when Nchan lacks the feature (batch → single pushes). */
  nchanKey?: string;
  /** Targets for ssepush's ratio to another server in the same run. */
  targets?: { vs: string; max: number; what: string }[];
  /** A condition of the run, not a figure of the server: no ratio. */
  noRatio?: boolean;
}

export function rows(o: SuiteOptions): Row[] {
  const N = o.n;
  return [
    {
      key: 'rssKiB',
      label: 'RSS per idle connection (KiB)',
      targets: [{ vs: 'nchan', max: 1.0, what: '≤ 1.0 × Nchan' }],
    },
    { key: 'heapKiB', label: 'JS heap per idle connection (KiB)' },
    { key: 'connectS', label: `time to open ${N} subscriptions (s)` },
    {
      key: 'connectCpuCold',
      label: `server CPU per new subscription, cold: first ${o.warmConns} (µs)`,
    },
    {
      key: 'connectCpu',
      label: `server CPU per new subscription, warm: the next ${N} (µs)`,
      targets: [
        { vs: 'nchan', max: 3.0, what: '≤ 3 × Nchan' },
        { vs: 'floor', max: 1.3, what: '≤ 1.3 × floor' },
      ],
    },
    { key: 'bcP50', label: `broadcast to ${N}: p50 (ms)` },
    {
      key: 'bcP99',
      label: `broadcast to ${N}: p99 (ms)`,
      targets: [{ vs: 'nchan', max: 1.0, what: '≤ 1.0 × Nchan' }],
    },
    { key: 'bcMax', label: `broadcast to ${N}: max (ms)` },
    {
      key: 'bcCpu',
      label: 'broadcast: server CPU per delivery (µs)',
      targets: [{ vs: 'nchan', max: 1.0, what: '≤ 1.0 × Nchan' }],
    },
    { key: 'uRps', label: 'unicast, single pushes: requests/s (16 in flight)' },
    { key: 'uP50', label: 'unicast, single: latency p50 (ms)' },
    { key: 'uP99', label: 'unicast, single: latency p99 (ms)' },
    {
      key: 'uCpuCold',
      label: `unicast, single: server CPU per delivery, cold: first ${o.unicast} (µs)`,
    },
    {
      key: 'uCpu',
      label: `unicast, single: server CPU per delivery, warm: the next ${o.unicast} (µs)`,
      targets: [
        { vs: 'nchan', max: 2.0, what: '≤ 2 × Nchan' },
        { vs: 'floor', max: 1.5, what: '≤ 1.5 × floor' },
      ],
    },
    { key: 'vMps', label: 'unicast, batch of 100: messages/s (Nchan: single)', nchanKey: 'uRps' },
    { key: 'vP99', label: 'unicast, batch: latency p99 (ms) (Nchan: single)', nchanKey: 'uP99' },
    {
      key: 'vCpu',
      label: 'unicast, batch: server CPU per delivery (µs) (Nchan: single)',
      nchanKey: 'uCpu',
      targets: [{ vs: 'nchan', max: 1.0, what: '≤ 1.0 × Nchan' }],
    },
    { key: 'sP50', label: `reconnect storm (${N} × 10 owed): catch-up p50 (ms)` },
    { key: 'sMax', label: 'reconnect storm: all caught up (ms)' },
    { key: 'sCaught', label: 'reconnect storm: clients caught up' },
    { key: 'sLost', label: 'reconnect storm: lost (must be 0)' },
    { key: 'sDup', label: 'reconnect storm: duplicated (must be 0)' },
    { key: 'sReset', label: 'reconnect storm: resets' },
    { key: 'bcMissing', label: 'broadcast: missing deliveries' },
    { key: 'uMissing', label: 'unicast: missing deliveries' },
    { key: 'loadBefore', label: 'load average (1 min) at the run’s start', noRatio: true },
    { key: 'loadAfter', label: 'load average (1 min) at the run’s end', noRatio: true },
  ];
}

function values(runs: Metrics[], key: string): number[] {
  return runs.map((r) => r[key]).filter((x): x is number => x !== undefined && Number.isFinite(x));
}

function cell(runs: Metrics[], key: string): string {
  const v = values(runs, key);
  if (v.length === 0) return '–';
  const range = v.length < 2 ? '' : ` (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})`;
  return `${fmt(median(v))}${range}`;
}

/**
 * Medians (min–max) per target, then ssepush's ratio to every other target, with verdicts
 * against the targets that name that server.
 */
export function table(
  rowList: Row[],
  results: Record<string, Metrics[]>,
): { md: string; verdicts: string[] } {
  const names = Object.keys(results);
  const others = results.ssepush ? names.filter((n) => n !== 'ssepush') : [];
  const head = [...names, ...others.map((o) => `ssepush/${o}`)];
  const lines = [`| metric | ${head.join(' | ')} |`, `|---|${head.map(() => '---:').join('|')}|`];
  const verdicts: string[] = [];
  for (const r of rowList) {
    const keyOf = (n: string) => (n.startsWith('nchan') ? (r.nchanKey ?? r.key) : r.key);
    const cells = names.map((n) => cell(results[n]!, keyOf(n)));
    if (cells.every((c) => c === '–')) continue;
    const mine = median(values(results.ssepush ?? [], r.key));
    for (const o of others) {
      const theirs = median(values(results[o]!, keyOf(o)));
      const ratio =
        Number.isFinite(mine) && Number.isFinite(theirs) && theirs !== 0 ? mine / theirs : Number.NaN;
      cells.push(Number.isFinite(ratio) && !r.noRatio ? fmt(ratio) : '–');
      for (const tg of r.targets ?? []) {
        if (tg.vs !== o || !Number.isFinite(ratio)) continue;
        const ok = ratio <= tg.max;
        verdicts.push(
          `${r.label}: ssepush/${o} ${fmt(ratio)} (${tg.what}: ${ok ? 'met' : `missed by ${fmt((ratio / tg.max - 1) * 100, 2)}%`})`,
        );
      }
    }
    lines.push(`| ${r.label} | ${cells.join(' | ')} |`);
  }
  return { md: lines.join('\n'), verdicts };
}

/**
 * Per-connection figures at each size, plus the marginal RSS per connection from the previous
 * size: one-off growth (JIT code, first heap pages) inflates the small sizes' averages, the
 * marginal cost shows whether memory grows linearly.
 */
export function scaleTable(list: { name: string; n: number; m: Metrics }[]): string {
  const lines = [
    '| server | N | held | RSS/conn KiB | marginal RSS/conn KiB | heap/conn KiB | broadcast p50 ms | p99 ms | CPU µs/delivery | missing |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const prev = new Map<string, { n: number; rss: number }>();
  for (const { name, n, m } of list) {
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
