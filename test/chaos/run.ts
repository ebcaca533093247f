/**
 * The chaos checker as a command: `npm run chaos -- --ops 100000 --seed 7 [--history 16]`.
 * Boots an in-process server, runs the seeded operations, prints a summary; exits 1 (printing
 * the seed) on the first violation.
 */
import { startServer } from '../helpers.js';
import { ChaosError, runChaos } from './checker.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name} needs a whole number`);
  return v;
}

const ops = arg('ops', 10_000);
const seed = arg('seed', Date.now() % 1_000_000);
const historySize = arg('history', 16);
const s = await startServer({
  HISTORY_SIZE: String(historySize),
  HISTORY_TTL_SECONDS: '0',
  HEARTBEAT_SECONDS: '1',
});
const t0 = Date.now();
try {
  const stats = await runChaos(s, {
    ops,
    seed,
    historySize,
    progress: (done, st) =>
      process.stdout.write(
        `  ${done} ops, ${st.messages} messages, ${st.resets} resets, ${st.replays} replays\n`,
      ),
  });
  process.stdout.write(
    `chaos OK: seed ${seed}, ${ops} operations in ${((Date.now() - t0) / 1000).toFixed(1)} s\n${JSON.stringify(stats, null, 2)}\n`,
  );
  await s.close();
} catch (err) {
  await s.close();
  process.stderr.write(
    `${err instanceof ChaosError ? err.message : String(err)}\nreproduce: npm run chaos -- --ops ${ops} --seed ${seed} --history ${historySize}\n`,
  );
  process.exit(1);
}
