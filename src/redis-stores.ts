import { RedisControl } from './control-redis.js';
import type { DisconnectNoticeOptions } from './disconnect-notices.js';
import { RedisDisconnectNotices } from './disconnect-notices-redis.js';
import type { Logger } from './logger.js';
import { RedisPresence } from './presence-redis.js';
import type { RedisClient } from './redis-connect.js';
import { Script, WEBHOOK_TICK_LUA } from './redis-scripts.js';
import { RedisRevocations } from './revocations-redis.js';
import type { RuntimeGroupsOptions } from './runtime-groups.js';
import { RedisRuntimeGroups } from './runtime-groups-redis.js';
import type { WebhookConfig } from './webhook-config.js';
import { RedisWebhookQueue } from './webhook-queue-redis.js';
import type { WebhookSource } from './webhooks.js';

const webhookTickScript = new Script(WEBHOOK_TICK_LUA);

/** Where the cluster stores live and how they are bounded (the Redis broker passes its own). */
export interface RedisStoresOptions {
  /** Connected client for commands and scripts (a `Cluster` client for cluster-mode Redis). */
  readonly pub: RedisClient;
  /** Connected client used only for subscriptions (a subscribed connection cannot publish). */
  readonly sub: RedisClient;
  /** The broker's key prefix (with its hash tag on cluster-mode Redis). */
  readonly prefix: string;
  /** Seconds a revocation lasts (REVOKE_TTL_SECONDS); default 86400. */
  readonly revokeTtlSec?: number;
  /** Uids holding a revocation at once (MAX_REVOCATIONS); default 100000. */
  readonly maxRevocations?: number;
  /** Bounds of the disconnect notices; defaults: 30 s, 100,000 uids. */
  readonly disconnectNotices?: DisconnectNoticeOptions;
  /** Bounds of the runtime groups store; defaults: a day, 100,000 uids, 64 groups per uid. */
  readonly runtimeGroups?: RuntimeGroupsOptions;
  /** Presence webhooks (`WEBHOOK_URL`): transitions are recorded cluster-wide by presence. */
  readonly webhook?: WebhookConfig | undefined;
  readonly log?: Logger | undefined;
}

/**
 * The cluster-wide stores that share the Redis broker's connections and key prefix: presence,
 * the control channel (`POST /disconnect` to every node, on `<prefix>ctl`), revocations,
 * disconnect notices, runtime groups, and the presence webhooks' queue. The broker exposes them
 * to the hub (`ClusterAbilities`); they never import the hub.
 */
export class RedisStores {
  readonly presence: RedisPresence;
  readonly control: RedisControl;
  readonly revocations: RedisRevocations;
  readonly disconnectNotices: RedisDisconnectNotices;
  readonly runtimeGroups: RedisRuntimeGroups;

  constructor(private readonly opts: RedisStoresOptions) {
    const { pub, sub, prefix, log } = opts;
    this.presence = new RedisPresence({
      client: pub,
      prefix,
      log,
      webhook: opts.webhook && { graceMs: opts.webhook.offlineGraceMs, queueMax: opts.webhook.queueMax },
    });
    this.runtimeGroups = new RedisRuntimeGroups({
      client: pub,
      sub,
      prefix,
      log,
      ...(opts.runtimeGroups ?? { ttlMs: 86_400_000, maxUids: 100_000, maxGroupsPerUid: 64 }),
    });
    this.control = new RedisControl({ pub, sub, prefix, log });
    this.revocations = new RedisRevocations({
      client: pub,
      control: this.control,
      prefix,
      ttlSec: opts.revokeTtlSec ?? 86_400,
      max: opts.maxRevocations ?? 100_000,
      log,
    });
    this.disconnectNotices = new RedisDisconnectNotices({
      client: pub,
      control: this.control,
      prefix,
      ...(opts.disconnectNotices ?? { ttlSec: 30, max: 100_000 }),
      log,
    });
  }

  /**
   * Resolves once the control channel is subscribed and the live revocations and notices are
   * loaded (so a restarted node refuses revoked tokens from the start).
   */
  async ready(timeoutMs: number): Promise<void> {
    await this.control.ready(timeoutMs);
    await this.revocations.load();
    await this.disconnectNotices.load();
  }

  /**
   * The deployment's presence webhooks: the queue lives in Redis (a node's death loses no event,
   * another node sends it), and `tick` ends offline graces with one atomic script call. What this
   * node queued is counted here: the tick's offline events and the presence writes' online ones.
   */
  webhookSource(config: WebhookConfig): WebhookSource {
    const { pub, prefix } = this.opts;
    const key = `${prefix}wh`;
    return {
      queue: new RedisWebhookQueue({ client: pub, prefix, max: config.queueMax }),
      tick: async () => {
        const args = [prefix, config.offlineGraceMs, config.queueMax];
        const r = await webhookTickScript.run(pub, key, args);
        const [queued, dropped] = Array.isArray(r) ? r.map(Number) : [0, 0];
        const online = this.presence.takeWebhookCounts();
        return { queued: (queued ?? 0) + online.queued, dropped: (dropped ?? 0) + online.dropped };
      },
    };
  }

  async close(): Promise<void> {
    await this.presence.close();
    await this.revocations.close();
    await this.disconnectNotices.close();
    await this.control.close();
    await this.runtimeGroups.close();
  }
}
