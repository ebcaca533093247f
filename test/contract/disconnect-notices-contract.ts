/**
 * The DisconnectNotices contract, as one suite every backend runs (memory and Redis). A backend
 * that shares its store between nodes also gives `peer` (another node on the same store, started
 * after the first: what a second node, or a restarted one, sees).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type {
  DisconnectNoticeOptions,
  DisconnectNotices,
  NoticeInput,
} from '../../src/disconnect-notices.js';
import { untold } from '../../src/disconnect-notices.js';
import { nowSec } from '../../src/revocations.js';

export interface NoticesUnderTest {
  readonly notices: DisconnectNotices;
  /** Another node on the same store, loaded and listening (shared backends only). */
  peer?(): Promise<DisconnectNotices>;
  /** Closes the store, its peers and whatever the factory opened for them. */
  close(): Promise<void>;
}

export type NoticesFactory = (opts: DisconnectNoticeOptions) => Promise<NoticesUnderTest>;

/** Retries `check` until it passes: other nodes see a notice after one propagation hop. */
async function eventually(check: () => void, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

const call = (uids: string[], over: Partial<NoticeInput> = {}): NoticeInput => ({
  uids,
  reason: 'banned',
  reconnect: false,
  atSec: nowSec(),
  position: 'e1-10',
  ...over,
});

export function disconnectNoticesContract(name: string, factory: NoticesFactory, skip?: string): void {
  describe.skipIf(skip !== undefined)(`DisconnectNotices contract: ${name}`, () => {
    const open: NoticesUnderTest[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((r) => r.close()));
    });
    const make = async (opts: Partial<DisconnectNoticeOptions> = {}) => {
      const made = await factory({ ttlSec: 30, max: 1000, ...opts });
      open.push(made);
      return made;
    };

    it('knows a notice at once, for each uid of the call, with what the call said', async () => {
      const { notices: n } = await make();
      expect(n.find('a')).toBeUndefined();
      const at = nowSec();
      await n.record(call(['a', 'b'], { atSec: at, reason: 'moved', reconnect: true }));
      for (const uid of ['a', 'b']) {
        expect(n.find(uid)).toMatchObject({
          reason: 'moved',
          reconnect: true,
          atSec: at,
          position: { id: 'e1-10', epoch: 'e1', seq: 10 },
        });
      }
      expect(n.find('c')).toBeUndefined();
    });

    it('keeps the later notice of a uid', async () => {
      const { notices: n } = await make();
      await n.record(call(['a'], { reason: 'first', position: 'e1-10' }));
      await n.record(call(['a'], { reason: 'second', position: 'e1-12' }));
      expect(n.find('a')).toMatchObject({ reason: 'second', position: { seq: 12 } });
    });

    it('forgets a notice after its TTL', async () => {
      const { notices: n } = await make({ ttlSec: 1 });
      await n.record(call(['a']));
      expect(n.find('a')).toBeDefined();
      await new Promise((r) => setTimeout(r, 1100));
      expect(n.find('a')).toBeUndefined();
    });

    it('keeps nothing with a TTL of 0 (off)', async () => {
      const { notices: n } = await make({ ttlSec: 0 });
      await n.record(call(['a']));
      expect(n.find('a')).toBeUndefined();
    });

    it('forgets the oldest uids past the bound, never refusing a call', async () => {
      const { notices: n } = await make({ max: 3 });
      await n.record(call(['a', 'b']));
      await n.record(call(['c']));
      await n.record(call(['a']));
      await n.record(call(['d', 'e']));
      // Age order: b, c, a, d, e; three kept.
      expect(['a', 'b', 'c', 'd', 'e'].filter((u) => n.find(u) !== undefined)).toEqual(['a', 'd', 'e']);
      await n.record(call(Array.from({ length: 10 }, (_, i) => `u${i}`)));
      expect(n.find('u9')).toBeDefined();
      expect(n.find('a')).toBeUndefined();
    });

    it('tells only polls that are not past the call: token before its second, cursor not after its position', async () => {
      const { notices: n } = await make();
      const at = nowSec();
      await n.record(call(['a'], { atSec: at, position: 'e1-10' }));
      const notice = n.find('a')!;
      expect(untold(notice, 'e1-9', at - 1)).toBe(true);
      expect(untold(notice, 'e1-3', undefined)).toBe(true);
      // Another history, or not one of our ids: not past the call.
      expect(untold(notice, 'e2-99', at - 1)).toBe(true);
      expect(untold(notice, 'garbage', at - 1)).toBe(true);
      // Answered since the call, or a token signed in its second or later.
      expect(untold(notice, 'e1-10', at - 1)).toBe(false);
      expect(untold(notice, 'e1-11', at - 1)).toBe(false);
      expect(untold(notice, 'e1-10', at)).toBe(false);
      expect(untold(notice, 'e1-10', at + 5)).toBe(false);
    });

    it('is closed idempotently, and refuses records after', async () => {
      const { notices: n } = await make();
      await n.close();
      await n.close();
      await expect(n.record(call(['a']))).rejects.toMatchObject({ code: 'closed' });
    });

    it('shows a notice recorded on one node to the others, and to a node started later', async (ctx) => {
      const made = await make();
      if (!made.peer) return ctx.skip();
      const live = await made.peer();
      await made.notices.record(call(['a', 'b'], { reason: 'kick' }));
      await eventually(() => expect(live.find('b')).toMatchObject({ reason: 'kick', reconnect: false }));
      const later = await made.peer();
      expect(later.find('a')).toMatchObject({ reason: 'kick', position: { id: 'e1-10' } });
    });
  });
}
