import { afterEach, describe, expect, it } from 'vitest';
import type { WebhookQueue } from '../../src/webhook-queue.js';
import type { WebhookEvent } from '../../src/webhook-signature.js';

let n = 0;
const ev = (uid: string, type: WebhookEvent['type'] = 'online'): WebhookEvent => ({
  id: `e${++n}`,
  type,
  uid,
  time: 1_700_000_000_000 + n,
});

/** The WebhookQueue guarantees (see src/webhook-queue.ts), for any backend. */
export function webhookQueueContract(name: string, make: (max: number) => Promise<WebhookQueue>): void {
  describe(`WebhookQueue contract: ${name}`, () => {
    const open: WebhookQueue[] = [];
    const queue = async (max = 1000) => {
      const q = await make(max);
      open.push(q);
      return q;
    };
    afterEach(async () => {
      for (const q of open.splice(0)) await q.close();
    });

    it('returns the oldest events in push order and forgets exactly what was acknowledged', async () => {
      const q = await queue();
      const a = [ev('a'), ev('b'), ev('c')];
      const b = [ev('a', 'offline'), ev('d')];
      await q.push(a);
      await q.push(b);
      expect(await q.size()).toBe(5);
      expect(await q.peek(2)).toEqual(a.slice(0, 2));
      await q.ack(a.slice(0, 2).map((e) => e.id));
      expect(await q.peek(10)).toEqual([a[2], ...b]);
      await q.ack([a[2]!.id, b[0]!.id, b[1]!.id]);
      expect(await q.peek(10)).toEqual([]);
      expect(await q.size()).toBe(0);
    });

    it('an acknowledgement of events that are not at the head removes nothing out of order', async () => {
      const q = await queue();
      const a = [ev('a'), ev('b')];
      await q.push(a);
      await q.ack([a[1]!.id]);
      expect(await q.peek(10)).toEqual(a);
    });

    it('is bounded: past max the oldest go, and push says how many', async () => {
      const q = await queue(3);
      const a = [ev('a'), ev('b'), ev('c'), ev('d')];
      expect(await q.push(a.slice(0, 2))).toBe(0);
      expect(await q.push(a.slice(2))).toBe(1);
      expect(await q.peek(10)).toEqual(a.slice(1));
      // Acknowledging a batch whose head was dropped meanwhile removes what is still there.
      await q.ack(a.slice(0, 3).map((e) => e.id));
      expect(await q.peek(10)).toEqual([a[3]]);
    });

    it('keeps uids with any characters apart', async () => {
      const q = await queue();
      const a = [ev('\u00e9'), ev('e\u0301'), ev('a b,c"d')];
      await q.push(a);
      expect((await q.peek(10)).map((e) => e.uid)).toEqual(a.map((e) => e.uid));
    });
  });
}
