import type { Targets } from './message.js';
import type { LocalPresence, OnlineStats, Presence, UidPage, UidPageQuery } from './presence.js';

/**
 * Presence of a single-process deployment: this node's registry is the whole truth, so the
 * queries read it, and `add`/`remove` have nothing to report (the registry already holds every
 * connection). It keeps no data of its own: no memory per connection.
 */
export class MemoryPresence implements Presence {
  constructor(private readonly local: LocalPresence) {}

  add(_uid: string, _groups: readonly string[]): void {}

  remove(_uid: string, _groups: readonly string[]): void {}

  regroup(_uid: string, _added: readonly string[], _removed: readonly string[]): void {}

  async reach(targets: readonly Targets[]): Promise<number[]> {
    return targets.map((t) => this.local.reach(t));
  }

  async online(uids?: readonly string[], groups?: readonly string[]): Promise<OnlineStats> {
    return this.local.online(uids, groups);
  }

  async uids(q: UidPageQuery): Promise<UidPage> {
    return this.local.uidPage(q);
  }

  async close(): Promise<void> {}
}
