/**
 * What the garbage collector does per push with N idle streams held, with and without V8's
 * allocation-site pretenuring (`src/v8-flags.ts` turns it off; `SSEPUSH_PRETENURING=1` keeps
 * it): the server runs with `--trace-gc-nvp` and the lines written during the measured push
 * round (after a warm-up round) are summed: scavenges and their pauses, bytes promoted per
 * scavenge, mark-compacts, plus server CPU per push and RSS.
 *
 *   npm run bench:gc -- [--n 10000] [--pushes 20000] [--rounds 2] [--target ssepush|floor]
 */
import { readFileSync, statSync } from 'node:fs';
import { cpuMicros, fmt, median, parseArgs, rssBytes } from './lib/measure.js';
import { ClientPool } from './lib/pool.js';
import { OUT, type SsepushOptions, startFloor, startSsepush, type Target } from './lib/targets.js';
import { openIdle, unicast } from './lib/workloads.js';

const args = parseArgs(process.argv.slice(2));
const N = Number(args.get('n') ?? 10_000);
const PUSHES = Number(args.get('pushes') ?? 20_000);
const ROUNDS = Number(args.get('rounds') ?? 2);
const TARGET = args.get('target') ?? 'ssepush';

interface GcFigures {
  cpuPerPush: number;
  scavenges: number;
  scavengePauseMean: number;
  scavengePauseMax: number;
  /** Sum of every GC pause (scavenge and mark-compact) in the round, per push, µs. */
  gcPausePerPush: number;
  promotedKiBPerScavenge: number;
  markCompacts: number;
  rssMiB: number;
}

/** `--trace-gc-nvp` lines between two file offsets, summed. */
function summarise(file: string, from: number, to: number): Omit<GcFigures, 'cpuPerPush' | 'rssMiB'> {
  const text = readFileSync(file, 'latin1').slice(from, to);
  const pauses: number[] = [];
  let promoted = 0;
  let all = 0;
  let markCompacts = 0;
  for (const line of text.split('\n')) {
    const gc = / gc=(\w+)/.exec(line)?.[1];
    const pause = Number(/ pause=([0-9.]+)/.exec(line)?.[1]);
    if (gc === undefined || !Number.isFinite(pause)) continue;
    all += pause;
    if (gc === 's') {
      pauses.push(pause);
      promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
    } else {
      markCompacts++;
    }
  }
  return {
    scavenges: pauses.length,
    scavengePauseMean: pauses.length ? pauses.reduce((a, b) => a + b, 0) / pauses.length : 0,
    scavengePauseMax: pauses.length ? Math.max(...pauses) : 0,
    gcPausePerPush: (all * 1000) / PUSHES,
    promotedKiBPerScavenge: pauses.length ? promoted / 1024 / pauses.length : 0,
    markCompacts,
  };
}

async function once(pretenuring: boolean, round: number): Promise<GcFigures> {
  const file = `${OUT}/gc-${TARGET}-${pretenuring ? 'pretenuring' : 'off'}-${round}.log`;
  const opts: SsepushOptions = {
    nodeArgs: ['--trace-gc-nvp'],
    stdoutFile: file,
    ...(pretenuring ? { env: { SSEPUSH_PRETENURING: '1' } } : {}),
  };
  const t: Target = TARGET === 'floor' ? await startFloor(opts) : await startSsepush(opts);
  const pool = ClientPool.start(N);
  try {
    await openIdle(t, pool, N);
    const lanes = { uids: N, pushes: PUSHES, lanes: 16, batch: 1 };
    await unicast(t, pool, { ...lanes, kind: 'x' });
    const from = statSync(file).size;
    const cpu0 = cpuMicros(t.pid);
    await unicast(t, pool, { ...lanes, kind: 'u' });
    const cpuPerPush = (cpuMicros(t.pid) - cpu0) / PUSHES;
    const to = statSync(file).size;
    return { cpuPerPush, rssMiB: rssBytes(t.pid) / 1048576, ...summarise(file, from, to) };
  } finally {
    await pool.close();
    await t.stop();
  }
}

async function main(): Promise<void> {
  const runs: Record<string, GcFigures[]> = { off: [], pretenuring: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const pretenuring of [false, true]) {
      const g = await once(pretenuring, r);
      runs[pretenuring ? 'pretenuring' : 'off']!.push(g);
      process.stderr.write(
        `round ${r + 1} ${pretenuring ? 'pretenuring (V8 default)' : 'no pretenuring'}: ${JSON.stringify(g)}\n`,
      );
    }
  }
  const keys: [keyof GcFigures, string][] = [
    ['cpuPerPush', 'server CPU per push (µs)'],
    ['gcPausePerPush', 'GC pause per push, all kinds (µs)'],
    ['scavenges', `scavenges during ${PUSHES} pushes`],
    ['scavengePauseMean', 'scavenge pause, mean (ms)'],
    ['scavengePauseMax', 'scavenge pause, max (ms)'],
    ['promotedKiBPerScavenge', 'promoted per scavenge (KiB)'],
    ['markCompacts', 'mark-compacts during the round'],
    ['rssMiB', 'RSS after the round (MiB)'],
  ];
  const cell = (list: GcFigures[], k: keyof GcFigures) => {
    const v = list.map((g) => g[k]);
    return `${fmt(median(v))}${v.length > 1 ? ` (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})` : ''}`;
  };
  const lines = [
    `${TARGET}, ${N} idle streams, ${PUSHES} warm single pushes (16 in flight) after a discarded round of as many; median (min–max) over ${ROUNDS} rounds`,
    '',
    '| per measured round | pretenuring off (--no-allocation-site-pretenuring) | V8 default (pretenuring on) |',
    '|---|---:|---:|',
    ...keys.map(([k, label]) => `| ${label} | ${cell(runs.off!, k)} | ${cell(runs.pretenuring!, k)} |`),
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:gc failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
