import type { Broker } from './broker.js';
import type { OnlineStats } from './hub.js';
import type { Targets } from './message.js';

/**
 * Who is online across the deployment. The hub reports its own connections (`add`/`remove`,
 * synchronous and cheap); queries answer for every node. Memory mode has none: the hub's own
 * indexes are the whole truth there.
 */
export interface Presence {
  /** A connection (stream or waiting poll) of `uid` in `groups` opened on this node. */
  add(uid: string, groups: readonly string[]): void;
  remove(uid: string, groups: readonly string[]): void;
  /** Connections addressed by each target, cluster-wide (see the implementation for exactness). */
  reach(targets: readonly Targets[]): Promise<number[]>;
  online(uids?: readonly string[]): Promise<OnlineStats>;
}

/** Optional abilities of a cluster broker, found by shape so the hub needs no Redis import. */
export interface ClusterAbilities {
  readonly presence: Presence;
  /** Called when live fan-out may have missed messages (the subscription was re-established). */
  onResync(listener: () => void): void;
}

export function clusterAbilities(b: Broker): ClusterAbilities | undefined {
  const c = b as Broker & Partial<ClusterAbilities>;
  return c.presence && typeof c.onResync === 'function' ? (c as Broker & ClusterAbilities) : undefined;
}
