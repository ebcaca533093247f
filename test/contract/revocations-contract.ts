/**
 * The Revocations contract, as one suite every backend runs (memory and Redis). A backend that
 * shares its store between nodes also gives `peer` (another node on the same store, started
 * after the first: what a second node, or a restarted one, sees).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RevocationOptions, Revocations } from '../../src/revocations.js';
import { nowSec } from '../../src/revocations.js';

export interface RevocationsUnderTest {
  readonly revocations: Revocations;
  /** Another node on the same store, loaded and listening (shared backends only). */
  peer?(): Promise<Revocations>;
  /** Closes the store, its peers and whatever the factory opened for them. */
  close(): Promise<void>;
}

export type RevocationsFactory = (opts: RevocationOptions) => Promise<RevocationsUnderTest>;

/** Retries `check` until it passes: other nodes see a revocation after one propagation hop. */
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

export function revocationsContract(name: string, factory: RevocationsFactory, skip?: string): void {
  describe.skipIf(skip !== undefined)(`Revocations contract: ${name}`, () => {
    const open: RevocationsUnderTest[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((r) => r.close()));
    });
    const make = async (opts: Partial<RevocationOptions> = {}) => {
      const made = await factory({ ttlSec: 3600, max: 1000, ...opts });
      open.push(made);
      return made;
    };

    it('refuses tokens issued before the second of the revocation, or without iat, at once', async () => {
      const { revocations: r } = await make();
      const at = nowSec();
      expect(r.isRevoked('a', at - 10)).toBe(false);
      await r.revoke(['a', 'b'], at);
      expect(r.isRevoked('a', at - 1)).toBe(true);
      expect(r.isRevoked('a', undefined)).toBe(true);
      expect(r.isRevoked('b', at - 3600)).toBe(true);
      // Signed in the second of the call or later: accepted.
      expect(r.isRevoked('a', at)).toBe(false);
      expect(r.isRevoked('a', at + 5)).toBe(false);
      expect(r.isRevoked('c', undefined)).toBe(false);
    });

    it('keeps the later revocation of a uid', async () => {
      const { revocations: r } = await make();
      const at = nowSec();
      await r.revoke(['a'], at);
      await r.revoke(['a'], at - 100);
      expect(r.isRevoked('a', at - 1)).toBe(true);
      await r.revoke(['a'], at + 2);
      expect(r.isRevoked('a', at + 1)).toBe(true);
    });

    it('forgets a revocation after its TTL, and an expired one takes no room', async () => {
      const { revocations: r } = await make({ ttlSec: 60, max: 1 });
      const now = nowSec();
      await r.revoke(['old'], now - 61);
      expect(r.isRevoked('old', undefined)).toBe(false);
      await r.revoke(['new'], now);
      expect(r.isRevoked('new', undefined)).toBe(true);
    });

    it('refuses a revoke past the bound whole, and counts a uid once', async () => {
      const { revocations: r } = await make({ max: 3 });
      const at = nowSec();
      await r.revoke(['a', 'b', 'a'], at);
      await r.revoke(['a', 'c'], at);
      await expect(r.revoke(['b', 'd'], at)).rejects.toMatchObject({
        kind: 'limited',
        code: 'too_many_revocations',
      });
      expect(r.isRevoked('d', undefined)).toBe(false);
      // Uids already held take no new room.
      await r.revoke(['a', 'b', 'c'], at + 1);
      expect(r.isRevoked('c', at)).toBe(true);
    });

    it('answers for every node of a shared store, and for a node started after the revoke', async () => {
      const made = await make();
      if (!made.peer) return;
      const early = await made.peer();
      const at = nowSec();
      await made.revocations.revoke(['a'], at);
      await eventually(() => expect(early.isRevoked('a', at - 1)).toBe(true));
      const late = await made.peer();
      expect(late.isRevoked('a', at - 1)).toBe(true);
      expect(late.isRevoked('a', at)).toBe(false);
      // A peer's revoke counts against the same bound and reaches the first node.
      await late.revoke(['b'], at);
      await eventually(() => expect(made.revocations.isRevoked('b', undefined)).toBe(true));
    });

    it('closes idempotently', async () => {
      const { revocations: r } = await make();
      await r.close();
      await r.close();
    });
  });
}
