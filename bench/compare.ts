/**
 * Side-by-side benchmark of ssepush, Nchan and the bare `node:http` floor: the same workloads
 * against each, alternately (Nchan, ssepush, floor, Nchan, …), each run on a fresh server,
 * measured warm (see `lib/suite.ts`; cold first-N costs reported apart); prints medians over
 * the rounds and ssepush's ratio to each, then a scaling run (memory and broadcast by N).
 *
 *   npm run bench:compare -- [--n 10000] [--pairs 3] [--scale 1000,5000,10000,18000] [--no-scale]
 *     [--targets nchan,ssepush,floor] [--warm-conns 2000] [--unicast 5000] [--batch-msgs 20000]
 *
 * `--no-storm` skips the reconnect storm. `--targets` may add `ssepush-pretenuring` / `floor-pretenuring` (V8's default allocation-site
 * pretenuring, `SSEPUSH_PRETENURING=1`) for the pretenuring experiment.
 */
import { parseArgs } from './lib/measure.js';
import { runMain, sideBySide } from './lib/side-by-side.js';
import { targetNames } from './lib/suite.js';

const args = parseArgs(process.argv.slice(2));
const n = Number(args.get('n') ?? 10_000);
const scale = args.has('no-scale')
  ? []
  : (args.get('scale') ?? '1000,5000,10000,18000').split(',').map((s) => Number(s.trim()));
const warmConns = Number(args.get('warm-conns') ?? 2000);
if (!(n > 0 && n <= 19_000) || scale.some((x) => !(x > 0 && x <= 19_000)) || !(warmConns >= 0)) {
  throw new Error('connections: 1..19000 (ulimit -n is 20,000 per process)');
}

runMain('bench:compare', () =>
  sideBySide({
    command: `npm run bench:compare -- ${process.argv.slice(2).join(' ')}`.trimEnd(),
    out: 'compare',
    targets: targetNames(args.get('targets') ?? 'nchan,ssepush,floor'),
    pairs: Number(args.get('pairs') ?? 3),
    scale,
    n,
    warmConns,
    unicast: Number(args.get('unicast') ?? 5000),
    batch: Number(args.get('batch-msgs') ?? 20_000),
    storm: !args.has('no-storm'),
  }),
);
