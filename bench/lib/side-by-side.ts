/**
 * The driver shared by `bench:compare` and `bench:floor`: runs the suite against each target in
 * turn (A B C, A B C, …: alternating, so machine noise spreads over all of them), then the
 * scaling runs, prints the table and writes it (and the raw figures) to `bench/out`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fmt, now } from './measure.js';
import { type Metrics, rows, runSuite, type SuiteOptions, scaleRun, scaleTable, table } from './suite.js';
import { OUT } from './targets.js';

export interface SideBySide extends SuiteOptions {
  /** The command, for the header. */
  readonly command: string;
  /** File name prefix in `bench/out`. */
  readonly out: string;
  readonly targets: readonly string[];
  readonly pairs: number;
  readonly scale: readonly number[];
  /** Extra lines after the verdicts (e.g. the floor ratio). */
  readonly summary?: (results: Record<string, Metrics[]>) => string[];
}

const loadText = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

export async function sideBySide(o: SideBySide): Promise<void> {
  const began = now();
  const stamp = new Date().toISOString();
  const loadStart = loadText();
  const results: Record<string, Metrics[]> = Object.fromEntries(o.targets.map((t) => [t, []]));
  for (let p = 0; p < o.pairs; p++) {
    for (const name of o.targets) {
      const t0 = now();
      const m = await runSuite(name, o);
      results[name]!.push(m);
      process.stderr.write(
        `round ${p + 1}/${o.pairs} ${name} (${fmt((now() - t0) / 1000)} s): ${JSON.stringify(m)}\n`,
      );
    }
  }
  const scaled: { name: string; n: number; m: Metrics }[] = [];
  for (const n of o.scale) {
    for (const name of o.targets) {
      const m = await scaleRun(name, n);
      scaled.push({ name, n, m });
      process.stderr.write(`scale ${name} n=${n}: ${JSON.stringify(m)}\n`);
    }
  }
  const { md, verdicts } = table(rows(o), results);
  const header = [
    `${o.targets.join(' vs ')}, ${stamp}, ${o.pairs} rounds (${o.targets.join(' ')} alternating), median (min–max) over runs`,
    `measured WARM: ${o.warmConns} warm-up connections opened and closed before the measured ${o.n}; one discarded broadcast; a cold unicast round of ${o.unicast} reported apart before the measured one; a discarded batch round`,
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; load clients on the same machine`,
    `load average (1/5/15 min): ${loadStart} at the start, ${loadText()} at the end`,
    `command: ${o.command}`,
  ].join('\n');
  const out = [
    header,
    '',
    ...(o.pairs > 0 ? [md, ''] : []),
    ...verdicts.map((v) => `- ${v}`),
    ...(o.summary ? ['', ...o.summary(results)] : []),
    '',
    ...(scaled.length ? ['Scaling (one run each):', '', scaleTable(scaled), ''] : []),
    `total time: ${fmt((now() - began) / 1000)} s`,
  ].join('\n');
  process.stdout.write(`\n${out}\n`);
  mkdirSync(OUT, { recursive: true });
  const base = `${OUT}/${o.out}-${stamp.replace(/[:.]/g, '-')}`;
  writeFileSync(`${base}.md`, `${out}\n`);
  writeFileSync(
    `${base}.json`,
    JSON.stringify(
      { date: stamp, options: o, results, scaled },
      (k, v) => (k === 'summary' ? undefined : v),
      2,
    ),
  );
  process.stdout.write(`raw: ${base}.json\n`);
}

/** Runs `main`, exiting non-zero with the error on failure (the load clients are children). */
export function runMain(label: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${label} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
