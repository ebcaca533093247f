import type { Control } from './control.js';
import type { DisconnectNotices } from './disconnect-notices.js';
import type { Message, PublishInput } from './message.js';
import type { Presence } from './presence.js';
import type { Revocations } from './revocations.js';
import type { RuntimeGroups } from './runtime-groups.js';

/** The outcome of a replay request; an expected outcome, so a value, not an exception. */
export interface BrokerReplay {
  /** False when the server cannot prove the replay complete (unknown id, other epoch, evicted). */
  readonly complete: boolean;
  /** Messages after the resume id in id order, each once; empty when incomplete. */
  readonly messages: Message[];
  /**
   * The position the replay was taken at: every message up to it addressed to these streams is
   * in `messages` (when complete). A reset or a fresh start continues from here.
   */
  readonly position: string;
  /** Why the replay is incomplete: `bad_id`, `unknown_id`, `epoch_changed` or `history_lost`. */
  readonly reason?: string;
  /**
   * True when the replay stopped at `limit`: `messages` is then the exact first `limit` messages
   * after the resume id, and `position` is the last one's id, so a replay from `position` gives
   * the next page.
   */
  readonly more?: boolean;
}

/** Options of one replay call. */
export interface ReplayOptions {
  /**
   * Most messages to return (a positive integer; absent = all). The work of the call is bounded
   * by it: each stream is read for at most `limit + 1` messages after the resume id.
   */
  readonly limit?: number;
  /**
   * The uid reading: messages whose `exclude` names it are left out of `messages`. They still
   * count towards `limit` and `position`, so a page of a paged replay may hold fewer messages
   * than `limit` (even none) and still say `more`.
   */
  readonly reader?: string;
}

/** One read of `Broker.replayMany`: the messages of `streams` after `resumeId`. */
export interface ReplayRead {
  readonly streams: readonly string[];
  readonly resumeId: string;
}

/** The limit of a replay call: a positive integer, or 0 for none. */
export function replayLimit(opts: ReplayOptions | undefined): number {
  const l = opts?.limit;
  return l !== undefined && Number.isSafeInteger(l) && l > 0 ? l : 0;
}

/** What a broker holding history in this process reports for metrics. */
export interface BrokerStats {
  /** Streams with history held. */
  readonly streams: number;
  /** Bytes of history held. */
  readonly bytes: number;
}

/** Receives every message published anywhere in the deployment, in id order. */
export type BrokerListener = (msg: Message) => void;

/**
 * Assigns ids, keeps bounded history and fans messages out, for one process (memory) or a
 * cluster (Redis).
 *
 * Guarantees every implementation keeps (checked by the shared contract suite):
 * - ids are totally ordered: a publish that resolved before another started has the lower id;
 * - id assignment, history append and fan-out are one step per message: a message that is in
 *   history has been (or is being) handed to every listener, and listeners see messages in
 *   id order;
 * - `replay` never returns a partial result: it is complete or says `complete: false`; with a
 *   `limit` it returns an exact prefix (the first `limit` messages) and says `more: true`;
 * - after `close()` resolves, `publish`/`replay`/`position` reject with a `closed` error and no
 *   listener is called again. `close()` is idempotent.
 */
export interface Broker {
  /** Publishes messages in order; resolves with the stored messages, ids assigned. */
  publish(inputs: readonly PublishInput[]): Promise<Message[]>;
  /** Messages of `streams` after `resumeId` (see `streamsOfSubscriber`), at most `opts.limit`. */
  replay(streams: readonly string[], resumeId: string, opts?: ReplayOptions): Promise<BrokerReplay>;
  /**
   * Many replays without limit or reader, answered in order, sent `perRound` per round trip where
   * the backend is remote (Redis pipelines): how a node catches its connections up after an
   * outage. Absent: callers replay one by one.
   */
  replayMany?(reads: readonly ReplayRead[], perRound: number): Promise<BrokerReplay[]>;
  /** The id of the newest message, or the start position of the current epoch. */
  position(): Promise<string>;
  /**
   * The same position when this backend holds it in process (memory), so a fresh stream can go
   * live in the same step as its head; absent or `undefined` when it must be asked (Redis) or
   * the broker is closed.
   */
  positionNow?(): string | undefined;
  /**
   * `publish` done in this call, when this backend stores in process (memory): the messages are
   * stored and handed to the listener before it returns, so a push needs no promise between the
   * request and its answer. Absent when the backend must be asked (Redis). Throws as `publish`
   * rejects.
   */
  publishNow?(inputs: readonly PublishInput[]): Message[];
  /** Registers the listener that receives every published message. */
  subscribe(listener: BrokerListener): void;
  /** False while the backend is unreachable (health checks and publishes answer 503). */
  readonly healthy: boolean;
  /** History held by this process, for metrics; absent when history lives elsewhere (Redis). */
  stats?(): BrokerStats;
  close(): Promise<void>;
}

/**
 * Optional abilities of a cluster broker (Redis), found by shape so the hub needs no Redis
 * import: its deployment-wide presence, control channel and revocations, and a signal that live
 * fan-out may have missed messages.
 */
export interface ClusterAbilities {
  readonly presence: Presence;
  /** Carries `POST /disconnect` to every node; absent = this node alone (memory loopback). */
  readonly control?: Control;
  /** Revocations every node sees; absent = this node's memory. */
  readonly revocations?: Revocations;
  /** Disconnect notices every node sees; absent = this node's memory. */
  readonly disconnectNotices?: DisconnectNotices;
  /** Deployment-wide runtime groups; absent = the hub keeps them in memory. */
  readonly runtimeGroups?: RuntimeGroups;
  /** Called when live fan-out may have missed messages (the subscription was re-established). */
  onResync(listener: () => void): void;
}

export function clusterAbilities(b: Broker): ClusterAbilities | undefined {
  const c = b as Broker & Partial<ClusterAbilities>;
  return c.presence && typeof c.onResync === 'function' ? (c as Broker & ClusterAbilities) : undefined;
}
