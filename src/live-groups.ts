import type { Subscriber } from './auth.js';
import { unavailable } from './errors.js';
import type { Member } from './member.js';
import type { Presence } from './presence.js';
import type { Registry } from './registry.js';
import { applyChange, effectiveGroups, type GroupChange, type RuntimeGroups } from './runtime-groups.js';

/**
 * Runtime groups (`POST /groups`) as this node's live connections see them: a new connection
 * starts with its token's groups plus its uid's runtime changes, and a change (of this node or
 * another) regroups the connections already live. The store is the cluster's in Redis mode, else
 * this process's (see `runtime-groups.ts`).
 */
/** Uids whose runtime groups `refresh` reads at once (one pipelined batch each). */
const REFRESH_CONCURRENCY = 1000;

export class LiveGroups {
  /**
   * Uids whose runtime groups are being read for a new connection, with the changes seen
   * meanwhile: a change that arrives during the read may be missing from it, so it is read again.
   */
  private readonly reading = new Map<string, { readers: number; changes: number }>();

  constructor(
    private readonly store: RuntimeGroups,
    /** Whether `close` closes the store (it is this process's, not the cluster broker's). */
    private readonly ownsStore: boolean,
    private readonly registry: Registry<Member>,
    private readonly presence: Presence,
  ) {
    store.subscribe((c) => this.regroup(c));
  }

  /**
   * `sub` with the groups its connections have now: its token's, plus those its uid joined at run
   * time, minus those it left. Call right before `admit` and opening (no await in between): a
   * change that arrives later regroups the connection once it is registered.
   */
  async subscriberNow(sub: Subscriber): Promise<Subscriber> {
    const known = this.subscriberKnown(sub);
    if (known) return known;
    const watch = this.reading.get(sub.uid) ?? { readers: 0, changes: 0 };
    watch.readers++;
    this.reading.set(sub.uid, watch);
    try {
      for (let attempt = 1; ; attempt++) {
        const seen = watch.changes;
        const delta = await this.store.get(sub.uid);
        if (watch.changes !== seen && attempt < 3) continue;
        const groups = effectiveGroups(sub.groups, delta);
        return groups === sub.groups ? sub : Object.freeze({ ...sub, groups: Object.freeze([...groups]) });
      }
    } finally {
      if (--watch.readers === 0) this.reading.delete(sub.uid);
    }
  }

  /**
   * `subscriberNow` answered in this call when runtime groups are held in process (memory mode),
   * so nothing can change between the read and the registration; `undefined` when they must be
   * asked (Redis). A new stream then opens without a promise or a microtask turn.
   */
  subscriberKnown(sub: Subscriber): Subscriber | undefined {
    const rg = this.store;
    if (!rg.getNow) return undefined;
    const groups = effectiveGroups(sub.groups, rg.getNow(sub.uid));
    return groups === sub.groups ? sub : Object.freeze({ ...sub, groups: Object.freeze([...groups]) });
  }

  /**
   * Changes the runtime groups of `c.uids` deployment-wide; resolves once this node's live
   * connections follow, with those uids' presence at that time.
   */
  async change(c: GroupChange): Promise<{ uids: number; connections: number }> {
    await this.store.change(c);
    const stats = await this.presence.online(c.uids).catch(() => this.registry.online(c.uids));
    let uids = 0;
    let connections = 0;
    for (const u of c.uids) {
      const n = stats.online?.[u] ?? 0;
      if (n > 0) uids++;
      connections += n;
    }
    return { uids, connections };
  }

  /**
   * After this node's subscription was lost (Redis mode; called by the catch-up), the changes
   * published meanwhile never reached it: reads the runtime groups of every uid with connections
   * here and regroups them to match. A change that arrives during a read is applied as usual and
   * the uid read again (as in `subscriberNow`); applying a uid's joins and leaves again changes
   * nothing. Known limit: a uid whose changes expired (`GROUPS_TTL_SECONDS`) while the node was
   * cut off keeps the groups it had.
   */
  async refresh(): Promise<void> {
    // Read before the channel is back, a uid could be overtaken by a change this node never hears.
    if (this.store.listening === false) throw unavailable('runtime group changes are not heard yet');
    const uids = [...new Set(this.registry.snapshot().map((m) => m.uid))];
    for (let i = 0; i < uids.length; i += REFRESH_CONCURRENCY)
      await Promise.all(uids.slice(i, i + REFRESH_CONCURRENCY).map((u) => this.refreshUid(u)));
  }

  async close(): Promise<void> {
    if (this.ownsStore) await this.store.close();
  }

  private async refreshUid(uid: string): Promise<void> {
    const watch = this.reading.get(uid) ?? { readers: 0, changes: 0 };
    watch.readers++;
    this.reading.set(uid, watch);
    try {
      for (let attempt = 1; ; attempt++) {
        const seen = watch.changes;
        const delta = await this.store.get(uid);
        if (watch.changes !== seen && attempt < 3) continue;
        if (delta) this.apply({ uids: [uid], join: delta.joined, leave: delta.left });
        return;
      }
    } finally {
      if (--watch.readers === 0) this.reading.delete(uid);
    }
  }

  /**
   * A runtime group change (of this node or another): live connections of its uids follow at once,
   * and reads in flight for them start over (see `subscriberNow`).
   */
  private regroup(c: GroupChange): void {
    for (const uid of c.uids) {
      const watch = this.reading.get(uid);
      if (watch) watch.changes++;
    }
    this.apply(c);
  }

  /** Regroups the live connections of `c.uids` by `c`. */
  private apply(c: GroupChange): void {
    for (const uid of c.uids) {
      for (const m of this.registry.of(uid)) {
        const d = this.registry.regroup(m, applyChange(m.groups, c));
        if (d) this.presence.regroup(uid, d.added, d.removed);
      }
    }
  }
}
