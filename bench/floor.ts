/**
 * How far ssepush is above the platform's floor: bare `node:http` (`lib/floor-server.mjs`)
 * doing the same work — a keep-alive JSON `POST /push` parsed and answered, one SSE chunk
 * written to one of N idle streams per push, N idle streams held, and per connection an SSE
 * `GET` accepted with its headers and an `id:` line — measured warm with the same load clients
 * and CPU accounting (`/proc` utime+stime per operation), side by side with ssepush (and Nchan
 * with `--nchan`) in one run. Prints the one-line ratios for the README.
 *
 *   npm run bench:floor -- [--n 10000] [--pairs 3] [--nchan] [--targets floor,ssepush,…]
 */
import { fmt, median, parseArgs } from './lib/measure.js';
import { runMain, sideBySide } from './lib/side-by-side.js';
import { type Metrics, targetNames } from './lib/suite.js';

const args = parseArgs(process.argv.slice(2));
const n = Number(args.get('n') ?? 10_000);
if (!(n > 0 && n <= 19_000)) throw new Error('connections: 1..19000 (ulimit -n is 20,000 per process)');
const targets = targetNames(
  args.get('targets') ?? (args.has('nchan') ? 'floor,ssepush,nchan' : 'floor,ssepush'),
);

function ratio(results: Record<string, Metrics[]>, key: string): string {
  const v = (name: string) =>
    median((results[name] ?? []).map((m) => m[key]).filter((x): x is number => x !== undefined));
  return fmt(v('ssepush') / v('floor'));
}

runMain('bench:floor', () =>
  sideBySide({
    command: `npm run bench:floor -- ${process.argv.slice(2).join(' ')}`.trimEnd(),
    out: 'floor',
    targets,
    pairs: Number(args.get('pairs') ?? 3),
    scale: [],
    n,
    warmConns: Number(args.get('warm-conns') ?? 2000),
    unicast: Number(args.get('unicast') ?? 5000),
    batch: Number(args.get('batch-msgs') ?? 20_000),
    storm: false,
    summary: (r) => [
      `ssepush costs ${ratio(r, 'uCpu')}× the platform floor per unicast push (warm server CPU per delivery), ` +
        `${ratio(r, 'connectCpu')}× per new connection, ${ratio(r, 'rssKiB')}× in RSS per idle connection, ` +
        `${ratio(r, 'bcCpu')}× per broadcast delivery, ${ratio(r, 'vCpu')}× per batched delivery.`,
    ],
  }),
);
