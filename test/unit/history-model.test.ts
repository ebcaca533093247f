/**
 * History (memory backend) against a model that remembers every message ever appended.
 * Random appends, clock moves, sweeps and replays under tiny bounds (size, TTL, MAX_STREAMS,
 * bytes), so every eviction path and the tombstones interleave.
 * - Soundness: a complete replay is exactly the messages of those streams after the position.
 * - Tightness (ring bound only, where loss is exactly computable): a replay is refused only when
 *   a message of those streams after the position really was dropped.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { History } from '../../src/history.js';
import { createMessage, type Message } from '../../src/message.js';

const KEYS = ['u:a', 'u:b', 'g:x', 'g:y', '*'];

type Op =
  | { kind: 'append'; keys: string[]; big: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'sweep' }
  | { kind: 'replay'; keys: string[]; back: number };

const keysArb = fc.subarray(KEYS, { minLength: 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('append' as const), keys: keysArb, big: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('replay' as const),
      keys: keysArb,
      back: fc.integer({ min: 0, max: 12 }),
    }),
  },
);

interface Logged {
  readonly msg: Message;
  readonly keys: readonly string[];
}

function run(
  opts: { size: number; ttlMs: number; maxStreams: number; maxBytes: number },
  ops: Op[],
  tight: boolean,
): void {
  let clock = 1_000_000;
  let seq = 0;
  const h = new History({ ...opts, now: () => clock });
  const log: Logged[] = [];
  for (const op of ops) {
    if (op.kind === 'append') {
      seq++;
      const data = op.big ? JSON.stringify('x'.repeat(200)) : String(seq);
      const msg = createMessage({ to: [], groups: [], event: 'm', data }, `e-${seq}`, seq, clock);
      h.append(op.keys, msg);
      log.push({ msg, keys: op.keys });
    } else if (op.kind === 'advance') {
      clock += op.ms;
    } else if (op.kind === 'sweep') {
      h.sweep();
    } else {
      const after = Math.max(0, seq - op.back);
      const r = h.replay(op.keys, after);
      const owed = log.filter((l) => l.msg.seq > after && l.keys.some((k) => op.keys.includes(k)));
      if (r.complete) {
        expect(r.messages.map((m) => m.seq)).toEqual(owed.map((l) => l.msg.seq));
      } else {
        expect(r.messages).toEqual([]);
        if (tight) {
          // Only the ring bound evicts here: a stream keeps its newest `size` messages.
          const dropped = op.keys.some((k) => {
            const inStream = log.filter((l) => l.keys.includes(k));
            return inStream.slice(0, Math.max(0, inStream.length - opts.size)).some((l) => l.msg.seq > after);
          });
          expect(dropped).toBe(true);
        }
      }
    }
  }
}

describe('History against a complete-log model', () => {
  it('complete replays are exact under every bound (size, TTL, MAX_STREAMS, bytes)', () => {
    fc.assert(
      fc.property(
        fc.record({
          size: fc.integer({ min: 1, max: 4 }),
          ttlMs: fc.constantFrom(0, 500, 1500),
          maxStreams: fc.integer({ min: 1, max: 5 }),
          maxBytes: fc.constantFrom(1 << 30, 3000, 1200),
        }),
        fc.array(opArb, { minLength: 1, maxLength: 80 }),
        (opts, ops) => run(opts, ops, false),
      ),
      { numRuns: 400 },
    );
  });

  it('replays are refused only when a message after the position really was dropped (ring bound)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(opArb, { minLength: 1, maxLength: 80 }),
        (size, ops) => run({ size, ttlMs: 0, maxStreams: 1000, maxBytes: 1 << 30 }, ops, true),
      ),
      { numRuns: 400 },
    );
  });
});
