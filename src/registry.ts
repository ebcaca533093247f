import type { Targets } from './message.js';
import type { LocalPresence, OnlineStats } from './presence.js';

/** What the registry needs to know of a connection. */
export interface Entry {
  readonly uid: string;
  readonly groups: readonly string[];
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
   * Calls `f` for each connection addressed by `t`; one that matches through its uid and a group
   * (or several groups) is visited once per match, so `f` must tolerate repeats.
   */
  forEachAddressed(t: Targets, f: (c: T) => void): void {
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
    if (t.to.length === 0 && t.groups.length === 0) return this.all.size;
    if (t.groups.length === 0) {
      let n = 0;
      for (const uid of t.to) n += this.countOf(uid);
      return n;
    }
    const seen = new Set<T>();
    this.forEachAddressed(t, (c) => seen.add(c));
    return seen.size;
  }

  online(uids?: readonly string[]): OnlineStats {
    const stats: OnlineStats = { uids: this.byUid.size, connections: this.all.size };
    if (!uids) return stats;
    // No prototype: a uid named `__proto__` (or `constructor`) is an ordinary key, kept in JSON.
    const online: Record<string, number> = Object.create(null);
    for (const u of uids) online[u] = this.countOf(u);
    return { ...stats, online };
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
