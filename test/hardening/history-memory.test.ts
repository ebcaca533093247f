/**
 * Issue 16.6: MAX_HISTORY_BYTES bounds what history really holds, measured on a real server
 * process's RSS, and one message addressed to many streams is counted once.
 *
 * Before: with HISTORY_SIZE=2000 every stream allocated 2000 ring slots (16 KiB) that were not
 * counted, so 30,000 one-byte pushes to distinct uids held ~500 MB under a 16 MiB bound; and a
 * 64 KiB push to 1,000 uids was counted 1,000 times, evicting every other stream's history.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  poll,
  pubToken,
  type SpawnedServer,
  spawnServer,
  startServer,
  subToken,
  type TestServer,
} from '../helpers.js';

/** Resident set of a process, in bytes (Linux). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

const MiB = 1024 * 1024;
const BOUND = 16 * MiB;
/**
 * Stated margin over MAX_HISTORY_BYTES for everything else a process grows by while serving 60
 * batch pushes: V8 heap headroom and garbage not yet collected (the same run with every message
 * to one uid grows RSS by ~66 MiB), request buffers, the LRUs' fixed index arrays, tombstones (their
 * own budget, 4 MiB here): RSS growth ≤ bound + 128 MiB. Measured: ~120 MiB, flat from 60k to 200k
 * pushes; before the fix, 504 MiB after 30k pushes, growing with every new uid.
 */
const MARGIN = 128 * MiB;
const BATCHES = 60;

describe.skipIf(process.platform !== 'linux')('history memory against process RSS', () => {
  let server: SpawnedServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('60,000 one-byte pushes to distinct uids with HISTORY_SIZE=2000 stay within MAX_HISTORY_BYTES + 128 MiB', async () => {
    server = await spawnServer({
      HISTORY_SIZE: '2000',
      MAX_HISTORY_BYTES: String(BOUND),
      LOG_LEVEL: 'info',
    });
    const pid = server.proc.pid!;
    const pub = pubToken();
    const push = async (batch: number) => {
      const body = Array.from({ length: 1000 }, (_, i) => ({ to: `b${batch}u${i}`, data: 1 }));
      const res = await fetch(`${server!.url}/push`, {
        method: 'POST',
        headers: { authorization: `Bearer ${pub}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    };
    // Warm up (JIT, first allocations), then measure the growth.
    await push(-1);
    await push(-2);
    const before = rss(pid);
    let peak = before;
    for (let b = 0; b < BATCHES; b++) {
      await push(b);
      peak = Math.max(peak, rss(pid));
    }
    const growth = peak - before;
    console.log(
      `history RSS: before ${(before / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB (bound ${BOUND / MiB} + ${MARGIN / MiB} MiB)`,
    );
    expect(growth).toBeLessThanOrEqual(BOUND + MARGIN);
    // The newest streams are still there.
    const r = await poll(server.url, subToken(`b${BATCHES - 1}u999`), undefined, 0);
    expect(r.cursor).toBeTruthy();
  }, 120_000);
});

describe('one message to many streams is counted once', () => {
  let s: TestServer;
  afterAll(() => s?.close());

  it('a 64 KiB push to 1,000 uids leaves 200 earlier users able to resume', async () => {
    s = await startServer({ MAX_HISTORY_BYTES: String(8 * MiB), HISTORY_SIZE: '100' });
    const start = (await poll(s.url, subToken('early0'), undefined, 0)).cursor;
    for (let i = 0; i < 200; i += 100) {
      const body = Array.from({ length: 100 }, (_, j) => ({ to: `early${i + j}`, data: i + j }));
      expect((await s.push(body)).status).toBe(200);
    }
    const to = Array.from({ length: 1000 }, (_, i) => `many${i}`);
    expect((await s.push({ to, data: 'x'.repeat(64 * 1024 - 2) })).status).toBe(200);
    for (let i = 0; i < 200; i += 13) {
      const r = await poll(s.url, subToken(`early${i}`), start, 0);
      expect(r.reset, `early${i}`).toBeUndefined();
      expect(r.messages.map((m) => m.data)).toEqual([i]);
    }
    const many = await poll(s.url, subToken('many500'), start, 0);
    expect(many.messages).toHaveLength(1);
  });
});
