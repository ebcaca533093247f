/**
 * The randomized delivery checker at CI size (`npm run chaos -- --ops 100000 --seed 7` runs it
 * longer). A failure names the seed and the operation; rerun that seed to reproduce.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import { runChaos } from './checker.js';

const HISTORY_SIZE = 16;

describe('chaos: seeded random pushes, reconnects and polls', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({
      HISTORY_SIZE: String(HISTORY_SIZE),
      HISTORY_TTL_SECONDS: '0',
      HEARTBEAT_SECONDS: '1',
    });
  });
  afterAll(() => s.close());

  it('10,000 operations: no loss, no duplicate, no reorder, reset exactly when the window was exceeded', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? 20261128);
    const stats = await runChaos(s, { ops: 10_000, seed, historySize: HISTORY_SIZE });
    console.log(`chaos seed ${seed}: ${JSON.stringify(stats)}`);
    expect(stats.ops).toBe(10_000);
    // The mix really exercised every path.
    expect(stats.resets).toBeGreaterThan(20);
    expect(stats.replays).toBeGreaterThan(100);
    expect(stats.waitingPolls).toBeGreaterThan(20);
    expect(stats.connects).toBeGreaterThan(500);
    expect(stats.excludes).toBeGreaterThan(500);
    expect(stats.kicked).toBeGreaterThan(20);
  }, 120_000);
});
