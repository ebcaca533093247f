import type { Targets } from './message.js';
import type { LocalPresence, OnlineStats, Presence } from './presence.js';

/**
 * Presence of a single-process deployment: this node's registry is the whole truth, so the
 * queries read it, and `add`/`remove` have nothing to report (the registry already holds every
 * connection). It keeps no data of its own: no memory per connection.
 */
export class MemoryPresence implements Presence {
  constructor(private readonly local: LocalPresence) {}

  add(_uid: string, _groups: readonly string[]): void {}

  remove(_uid: string, _groups: readonly string[]): void {}

  async reach(targets: readonly Targets[]): Promise<number[]> {
    return targets.map((t) => this.local.reach(t));
  }

  async online(uids?: readonly string[]): Promise<OnlineStats> {
    return this.local.online(uids);
  }

  async close(): Promise<void> {}
}
