/**
 * The RuntimeGroups contract, as one suite every backend runs (memory and Redis). A factory makes
 * a deployment of two nodes: two stores on one Redis prefix, or the same memory store twice (a
 * memory deployment is one node).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SsePushError } from '../../src/errors.js';
import type { GroupChange, RuntimeGroups, RuntimeGroupsOptions } from '../../src/runtime-groups.js';

export interface RuntimeGroupsUnderTest {
  readonly a: RuntimeGroups;
  readonly b: RuntimeGroups;
  close(): Promise<void>;
}

export type RuntimeGroupsFactory = (opts: RuntimeGroupsOptions) => Promise<RuntimeGroupsUnderTest>;

const OPTS: RuntimeGroupsOptions = { ttlMs: 60_000, maxUids: 100, maxGroupsPerUid: 4 };

async function eventually(check: () => void | Promise<void>, ms = 3000): Promise<void> {
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

async function failure(p: Promise<unknown>): Promise<SsePushError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SsePushError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

const sorted = (d: { joined: readonly string[]; left: readonly string[] } | undefined) =>
  d && { joined: [...d.joined].sort(), left: [...d.left].sort() };

export function runtimeGroupsContract(name: string, factory: RuntimeGroupsFactory, skip?: string): void {
  describe.skipIf(skip !== undefined)(`RuntimeGroups contract: ${name}`, () => {
    const open: RuntimeGroupsUnderTest[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });
    const deployment = async (opts: Partial<RuntimeGroupsOptions> = {}) => {
      const d = await factory({ ...OPTS, ...opts });
      open.push(d);
      return d;
    };

    it('keeps what each uid joined and left, for every node, the later change winning', async () => {
      const { a, b } = await deployment();
      expect(await a.get('u1')).toBeUndefined();
      await a.change({ uids: ['u1', 'u2'], join: ['g', 'h'], leave: ['t'] });
      expect(sorted(await b.get('u1'))).toEqual({ joined: ['g', 'h'], left: ['t'] });
      await b.change({ uids: ['u1'], join: ['t'], leave: ['g'] });
      expect(sorted(await a.get('u1'))).toEqual({ joined: ['h', 't'], left: ['g'] });
      expect(sorted(await a.get('u2'))).toEqual({ joined: ['g', 'h'], left: ['t'] });
      expect(await a.get('__proto__')).toBeUndefined();
      await a.change({ uids: ['__proto__'], join: ['constructor'], leave: [] });
      expect(sorted(await b.get('__proto__'))).toEqual({ joined: ['constructor'], left: [] });
    });

    it('tells every node of every change, in order, by the time change() resolves on its own', async () => {
      const { a, b } = await deployment();
      const seenA: GroupChange[] = [];
      const seenB: GroupChange[] = [];
      a.subscribe((c) => seenA.push(c));
      if (b !== a) b.subscribe((c) => seenB.push(c));
      const c1 = { uids: ['x'], join: ['g'], leave: [] };
      const c2 = { uids: ['x', 'y'], join: [], leave: ['g'] };
      await a.change(c1);
      expect(seenA).toEqual([c1]);
      await b.change(c2);
      if (b !== a) expect(seenB).toEqual([c1, c2]);
      await eventually(() => expect(seenA).toEqual([c1, c2]));
    });

    it('refuses a uid past its bound, atomically, naming the uid', async () => {
      const { a } = await deployment({ maxGroupsPerUid: 2 });
      await a.change({ uids: ['u'], join: ['g1', 'g2'], leave: [] });
      const err = await failure(a.change({ uids: ['v', 'u'], join: ['g3'], leave: [] }));
      expect(err.kind).toBe('bad_input');
      expect(err.message).toContain('"u"');
      // Nothing of the refused call was applied, not even for v.
      expect(await a.get('v')).toBeUndefined();
      expect(sorted(await a.get('u'))).toEqual({ joined: ['g1', 'g2'], left: [] });
      // Leaving one makes room: the later change wins.
      await a.change({ uids: ['u'], join: ['g3'], leave: ['g1'] });
      expect(sorted(await a.get('u'))).toEqual({ joined: ['g2', 'g3'], left: ['g1'] });
      const left = await failure(a.change({ uids: ['w'], join: [], leave: ['a', 'b', 'c'] }));
      expect(left.kind).toBe('bad_input');
    });

    it('refuses new uids beyond maxUids with unavailable, still changing known ones', async () => {
      const { a } = await deployment({ maxUids: 3 });
      await a.change({ uids: ['1', '2'], join: ['g'], leave: [] });
      const err = await failure(a.change({ uids: ['3', '4'], join: ['g'], leave: [] }));
      expect(err.kind).toBe('unavailable');
      expect(err.code).toBe('runtime_groups_full');
      expect(await a.get('3')).toBeUndefined();
      await a.change({ uids: ['1', '2', '3'], join: ['h'], leave: [] });
      expect(sorted(await a.get('3'))).toEqual({ joined: ['h'], left: [] });
    });

    it('forgets a uid ttlMs after its last change, making room for others', async () => {
      const { a, b } = await deployment({ ttlMs: 300, maxUids: 1 });
      await a.change({ uids: ['old'], join: ['g'], leave: [] });
      expect(await b.get('old')).toBeDefined();
      await eventually(async () => expect(await b.get('old')).toBeUndefined());
      await new Promise((r) => setTimeout(r, 350));
      expect(await b.get('old')).toBeUndefined();
      await a.change({ uids: ['new'], join: ['g'], leave: [] });
      expect(await b.get('new')).toBeDefined();
    });

    it('closes idempotently; calls after close fail', async () => {
      const { a } = await deployment();
      await a.close();
      await a.close();
      const err = await failure(a.get('u'));
      expect(err.code).toBe('closed');
    });
  });
}
