import type { Targets } from './message.js';
import type { GroupStats, LocalPresence, OnlineStats, UidPage, UidPageQuery } from './presence.js';

/** What the registry needs to know of a connection. */
export interface Entry {
  readonly uid: string;
  /** Its groups; changed only through `Registry.regroup`, which re-indexes it. */
  groups: readonly string[];
  /** When its token expires (ms since the Unix epoch); `undefined` = never. */
  readonly expiresAt: number | undefined;
  readonly kind: 'stream' | 'poll';
}

/**
 * Every live connection of this process, indexed by uid and group (for fan-out and limits) and
 * by the second its token expires. It is also this node's presence: the memory backend reads it.
 */
export class Registry<T extends Entry> implements LocalPresence {
  private readonly all = new Set<T>();
  private readonly byUid = new Map<string, Set<T>>();
  private readonly byGroup = new Map<string, Set<T>>();
  private readonly expiries = new Map<number, Set<T>>();
  private streams = 0;
  private polls = 0;

  /** Registers `c`; false when it already was. */
  add(c: T): boolean {
    if (this.all.has(c)) return false;
    this.all.add(c);
    addTo(this.byUid, c.uid, c);
    for (const g of c.groups) addTo(this.byGroup, g, c);
    if (c.expiresAt !== undefined) addTo(this.expiries, Math.ceil(c.expiresAt / 1000), c);
    if (c.kind === 'stream') this.streams++;
    else this.polls++;
    return true;
  }

  /** Unregisters `c`; false when it was not registered. */
  remove(c: T): boolean {
    if (!this.all.delete(c)) return false;
    removeFrom(this.byUid, c.uid, c);
    for (const g of c.groups) removeFrom(this.byGroup, g, c);
    if (c.expiresAt !== undefined) removeFrom(this.expiries, Math.ceil(c.expiresAt / 1000), c);
    if (c.kind === 'stream') this.streams--;
    else this.polls--;
    return true;
  }

  /**
   * Gives registered `c` the groups `groups` (a runtime change), re-indexing it; returns the
   * groups added and removed, or `undefined` when `c` is not registered or nothing changed.
   */
  regroup(c: T, groups: readonly string[]): { added: string[]; removed: string[] } | undefined {
    if (!this.all.has(c)) return undefined;
    const before = c.groups;
    const added = groups.filter((g) => !before.includes(g));
    const removed = before.filter((g) => !groups.includes(g));
    if (added.length === 0 && removed.length === 0) return undefined;
    for (const g of removed) removeFrom(this.byGroup, g, c);
    c.groups = groups;
    for (const g of added) addTo(this.byGroup, g, c);
    return { added, removed };
  }

  /** The connections of `uid`, a copy (callers change them). */
  of(uid: string): T[] {
    const set = this.byUid.get(uid);
    return set ? [...set] : [];
  }

  get counts(): { streams: number; polls: number; uids: number } {
    return { streams: this.streams, polls: this.polls, uids: this.byUid.size };
  }

  get size(): number {
    return this.all.size;
  }

  /** Connections of `uid`. */
  countOf(uid: string): number {
    return this.byUid.get(uid)?.size ?? 0;
  }

  /** A copy of every connection, for loops that end some of them. */
  snapshot(): T[] {
    return [...this.all];
  }

  forEach(f: (c: T) => void): void {
    for (const c of this.all) f(c);
  }

  /**
   * Calls `f` for each connection addressed by `t` and not left out by its `exclude`; one that
   * matches through its uid and a group (or several groups) is visited once per match, so `f`
   * must tolerate repeats.
   */
  forEachAddressed(t: Targets, f: (c: T) => void): void {
    const x = t.exclude;
    if (x !== undefined && x.length > 0) {
      const out = new Set(x);
      this.forEachTargeted(t, (c) => {
        if (!out.has(c.uid)) f(c);
      });
    } else this.forEachTargeted(t, f);
  }

  private forEachTargeted(t: Targets, f: (c: T) => void): void {
    if (t.to.length === 0 && t.groups.length === 0) {
      for (const c of this.all) f(c);
      return;
    }
    for (const uid of t.to) for (const c of this.byUid.get(uid) ?? []) f(c);
    for (const g of t.groups) for (const c of this.byGroup.get(g) ?? []) f(c);
  }

  /** Takes out the connections whose token expired by `nowSec` (they stay registered). */
  expired(nowSec: number): T[] {
    const out: T[] = [];
    for (const [sec, set] of this.expiries) {
      if (sec > nowSec) continue;
      out.push(...set);
      this.expiries.delete(sec);
    }
    return out;
  }

  reach(t: Targets): number {
    const x = t.exclude;
    if (t.groups.length === 0 && t.to.length > 0 && (x === undefined || x.length === 0)) {
      // The common push (to uids, nobody left out): no set to build.
      let n = 0;
      for (const uid of t.to) n += this.countOf(uid);
      return n;
    }
    const out = new Set(x);
    if (t.to.length === 0 && t.groups.length === 0) {
      let n = this.all.size;
      for (const uid of out) n -= this.countOf(uid);
      return n;
    }
    if (t.groups.length === 0) {
      let n = 0;
      for (const uid of t.to) if (!out.has(uid)) n += this.countOf(uid);
      return n;
    }
    const seen = new Set<T>();
    this.forEachAddressed(t, (c) => seen.add(c));
    return seen.size;
  }

  online(uids?: readonly string[], groups?: readonly string[]): OnlineStats {
    let stats: OnlineStats = { uids: this.byUid.size, connections: this.all.size };
    if (uids) {
      const online: Record<string, number> = Object.create(null);
      for (const u of uids) online[u] = this.countOf(u);
      stats = { ...stats, online };
    }
    if (groups) {
      const byGroup: Record<string, GroupStats> = Object.create(null);
      for (const g of groups) {
        const members = this.byGroup.get(g);
        const distinct = new Set<string>();
        for (const c of members ?? []) distinct.add(c.uid);
        byGroup[g] = { uids: distinct.size, connections: members?.size ?? 0 };
      }
      stats = { ...stats, groups: byGroup };
    }
    return stats;
  }

  /**
   * One page of online uids (all, or those with a connection in `q.group`) in code-unit order,
   * after `q.after`: one pass over the uids, keeping the `limit + 1` smallest in a sorted array.
   */
  uidPage(q: UidPageQuery): UidPage {
    const keep = q.limit + 1;
    const best: string[] = [];
    const consider = (uid: string) => {
      if (q.after !== undefined && uid <= q.after) return;
      if (best.length >= keep && uid >= best[best.length - 1]!) return;
      let lo = 0;
      let hi = best.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (best[mid]! < uid) lo = mid + 1;
        else hi = mid;
      }
      if (best[lo] === uid) return;
      best.splice(lo, 0, uid);
      if (best.length > keep) best.pop();
    };
    if (q.group === undefined) for (const uid of this.byUid.keys()) consider(uid);
    else for (const c of this.byGroup.get(q.group) ?? []) consider(c.uid);
    const more = best.length > q.limit;
    if (more) best.pop();
    return { uids: best, next: more ? best[best.length - 1] : undefined };
  }
}

function addTo<K, T>(map: Map<K, Set<T>>, key: K, c: T): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(c);
}

function removeFrom<K, T>(map: Map<K, Set<T>>, key: K, c: T): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(c);
  if (set.size === 0) map.delete(key);
}
