/**
 * The Presence contract, as one suite every backend runs (memory and Redis). The suite plays one
 * node: like the hub, it registers each connection in the node's registry, then reports it to
 * the presence under test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalPresence, Presence } from '../../src/presence.js';
import { type Entry, Registry } from '../../src/registry.js';

export interface PresenceUnderTest {
  readonly presence: Presence;
  /** Closes the presence and whatever the factory opened for it. */
  close(): Promise<void>;
}

/** Makes a presence for a node whose own connections are `local`. */
export type PresenceFactory = (local: LocalPresence) => Promise<PresenceUnderTest>;

/** Retries `check` until it passes: other figures may follow a node's changes with a delay. */
async function eventually(check: () => Promise<void>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export function presenceContract(name: string, factory: PresenceFactory, skip?: string): void {
  describe.skipIf(skip !== undefined)(`Presence contract: ${name}`, () => {
    const open: PresenceUnderTest[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((p) => p.close()));
    });

    /** One node: its registry and the presence it reports to. */
    const node = async () => {
      const registry = new Registry<Entry>();
      const made = await factory(registry);
      open.push(made);
      const p = made.presence;
      return {
        p,
        connect(uid: string, groups: string[] = []): Entry {
          const e: Entry = { uid, groups, expiresAt: undefined, kind: 'stream' };
          registry.add(e);
          p.add(uid, groups);
          return e;
        },
        disconnect(e: Entry): void {
          registry.remove(e);
          p.remove(e.uid, e.groups);
        },
        regroup(e: Entry, groups: string[]): void {
          const d = registry.regroup(e, groups);
          if (d) p.regroup(e.uid, d.added, d.removed);
        },
      };
    };

    it('counts every connection of a uid, and distinct uids', async () => {
      const n = await node();
      expect(await n.p.online()).toEqual({ uids: 0, connections: 0 });
      n.connect('a', ['g']);
      n.connect('a');
      n.connect('b', ['g', 'h']);
      // A node's own per-uid and connection figures count at once.
      const now = await n.p.online(['a', 'b', 'nobody']);
      expect(now.connections).toBe(3);
      expect(now.online).toEqual({ a: 2, b: 1, nobody: 0 });
      await eventually(async () =>
        expect(await n.p.online(['a', 'b', 'nobody'])).toEqual({
          uids: 2,
          connections: 3,
          online: { a: 2, b: 1, nobody: 0 },
        }),
      );
      expect(await n.p.online()).toEqual({ uids: 2, connections: 3 });
    });

    it('reaches the connections of each target, in order, a broadcast reaching all', async () => {
      const n = await node();
      n.connect('a', ['g']);
      n.connect('a');
      n.connect('b', ['g', 'h']);
      const counts = await n.p.reach([
        { to: ['a'], groups: [] },
        { to: [], groups: ['g'] },
        { to: [], groups: [] },
        { to: ['nobody'], groups: ['nogroup'] },
        { to: ['a', 'b'], groups: [] },
        { to: [], groups: ['h'] },
      ]);
      expect(counts).toEqual([2, 2, 3, 0, 3, 1]);
      // b matches through its uid and its group: counted at least once, never beyond the total.
      const [mixed] = await n.p.reach([{ to: ['b'], groups: ['g'] }]);
      expect(mixed).toBeGreaterThanOrEqual(2);
      expect(mixed).toBeLessThanOrEqual(3);
      expect(await n.p.reach([])).toEqual([]);
    });

    it('leaves excluded uids out of reach: exactly for a broadcast and uids, at most the rest for groups', async () => {
      const n = await node();
      n.connect('a', ['g']);
      n.connect('a');
      n.connect('b', ['g', 'h']);
      n.connect('c');
      await eventually(async () => expect(await n.p.online()).toEqual({ uids: 3, connections: 4 }));
      const [broadcast, uids, none, group] = await n.p.reach([
        { to: [], groups: [], exclude: ['a'] },
        { to: ['a', 'b'], groups: [], exclude: ['a', 'nobody'] },
        { to: ['a'], groups: [], exclude: ['a'] },
        { to: [], groups: ['g'], exclude: ['b'] },
      ]);
      expect([broadcast, uids, none]).toEqual([2, 1, 0]);
      // Memory knows b is in g (exactly 1); a backend that does not may count b, never beyond the total minus b.
      expect(group).toBeGreaterThanOrEqual(1);
      expect(group).toBeLessThanOrEqual(2);
    });

    it('forgets closed connections, and a uid whose last connection closed', async () => {
      const n = await node();
      const a1 = n.connect('a', ['g']);
      const a2 = n.connect('a');
      n.connect('b');
      n.disconnect(a1);
      expect((await n.p.online(['a'])).online).toEqual({ a: 1 });
      expect(await n.p.reach([{ to: [], groups: ['g'] }])).toEqual([0]);
      n.disconnect(a2);
      const now = await n.p.online(['a']);
      expect(now.connections).toBe(1);
      expect(now.online).toEqual({ a: 0 });
      await eventually(async () => expect(await n.p.online()).toEqual({ uids: 1, connections: 1 }));
      expect(await n.p.reach([{ to: ['a'], groups: [] }])).toEqual([0]);
    });

    it('counts distinct uids and connections per group, following runtime group changes', async () => {
      const n = await node();
      const a1 = n.connect('a', ['g']);
      n.connect('a', ['g', 'h']);
      const b = n.connect('b', ['h']);
      n.connect('__proto__', ['constructor']);
      const groups = ['g', 'h', 'none', '__proto__', 'constructor'];
      await eventually(async () =>
        // JSON, as the answer goes out: `__proto__` is a plain key there, never a prototype.
        expect(JSON.parse(JSON.stringify((await n.p.online(undefined, groups)).groups))).toEqual(
          JSON.parse(
            '{"g":{"uids":1,"connections":2},"h":{"uids":2,"connections":2},"none":{"uids":0,"connections":0},"__proto__":{"uids":0,"connections":0},"constructor":{"uids":1,"connections":1}}',
          ),
        ),
      );
      n.regroup(b, ['g']);
      n.regroup(a1, ['k']);
      await eventually(async () => {
        const now = await n.p.online(['a', 'b'], ['g', 'h', 'k']);
        expect(now.groups).toEqual({
          g: { uids: 2, connections: 2 },
          h: { uids: 1, connections: 1 },
          k: { uids: 1, connections: 1 },
        });
        expect(now.online).toEqual({ a: 2, b: 1 });
      });
      expect(await n.p.reach([{ to: [], groups: ['k'] }])).toEqual([1]);
      n.disconnect(b);
      await eventually(async () =>
        expect((await n.p.online(undefined, ['g'])).groups).toEqual({ g: { uids: 1, connections: 1 } }),
      );
    });

    it('pages through online uids, all or a group, each uid once', async () => {
      const n = await node();
      const uids = Array.from({ length: 250 }, (_, i) => `user-${i}`);
      for (const u of uids) n.connect(u, Number(u.slice(5)) % 2 === 0 ? ['even'] : []);
      n.connect('user-0', ['even']);
      const walk = async (group?: string) => {
        const out: string[] = [];
        let after: string | undefined;
        for (let i = 0; i < 100; i++) {
          const page = await n.p.uids({ group, limit: 40, after });
          expect(page.uids.length).toBeLessThanOrEqual(40);
          out.push(...page.uids);
          if (page.next === undefined) return out;
          expect(page.next).toBe(page.uids[page.uids.length - 1]);
          after = page.next;
        }
        throw new Error('walk did not end');
      };
      await eventually(async () => expect((await walk()).length).toBe(250));
      const all = await walk();
      expect(new Set(all).size).toBe(250);
      expect([...all].sort()).toEqual([...uids].sort());
      const even = await walk('even');
      expect(even.length).toBe(125);
      expect(new Set(even).size).toBe(125);
      expect(await walk('nobody-here')).toEqual([]);
      const one = await n.p.uids({ limit: 1 });
      expect(one.uids.length).toBe(1);
      expect(one.next).toBe(one.uids[0]);
    });

    it('closes idempotently', async () => {
      const n = await node();
      n.connect('a');
      await n.p.close();
      await n.p.close();
    });
  });
}
