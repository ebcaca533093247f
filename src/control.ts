/**
 * Backend control commands (`POST /disconnect`): what one node asks every node of the deployment
 * to do to the connections it holds. The memory backend loops a command back to its own node;
 * the Redis backend carries it on a pub/sub channel to every node, the sender included.
 */

/** End every stream and waiting poll of `uids`, telling them why and whether to come back. */
export interface DisconnectCommand {
  readonly op: 'disconnect';
  readonly uids: readonly string[];
  /** Shown to the client (`event: disconnect` data, the poll answer's `disconnect`). */
  readonly reason: string;
  /** Whether the client should reconnect (false: stay closed until the page asks). */
  readonly reconnect: boolean;
}

/** Refuse tokens of `uids` issued before the second `at` (see `Revocations`). */
export interface RevokeCommand {
  readonly op: 'revoke';
  readonly uids: readonly string[];
  /** The second of the call, seconds since the Unix epoch. */
  readonly at: number;
}

/**
 * Remember, for a short window, what a disconnect told `uids` (see `DisconnectNotices`): sent
 * before the disconnect it describes, so every node knows it by the time the disconnect arrives.
 */
export interface NoticeCommand {
  readonly op: 'notice';
  readonly uids: readonly string[];
  readonly reason: string;
  readonly reconnect: boolean;
  /** The second of the call, seconds since the Unix epoch. */
  readonly at: number;
  /** The deployment's position at the call (an event id). */
  readonly position: string;
}

export type ControlCommand = DisconnectCommand | RevokeCommand | NoticeCommand;

export type ControlListener = (cmd: ControlCommand) => void;

/**
 * Carries control commands to every node of the deployment.
 *
 * Guarantees every implementation keeps:
 * - every listener of every live node (the sender's included) gets each command sent after it
 *   registered, once, in the order one node sent them; commands of one channel keep their order
 *   whatever sends them (a revoke sent before a disconnect is applied before it everywhere);
 * - `send` resolves once the command is on its way to every node (memory: applied); it rejects
 *   with an `unavailable` error when the backend cannot carry it, and nothing was sent;
 * - a node that stops hearing commands (its subscription is lost) calls its `onLost` listeners at
 *   once, and once it hears them again (the subscription re-established) its `onGap` listeners, so
 *   stores that mirror commands know their mirror is incomplete from the loss until they reload;
 * - `close()` is idempotent; no listener is called after it.
 */
export interface Control {
  send(cmd: ControlCommand): Promise<void>;
  listen(listener: ControlListener): void;
  /** Called when commands may start being missed; `onGap` follows when they are heard again. */
  onLost(listener: () => void): void;
  onGap(listener: () => void): void;
  close(): Promise<void>;
}

/** A control command read from an untrusted wire (another node, a shared Redis), or `undefined`. */
export function parseCommand(text: string): ControlCommand | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const uids = o.uids;
  if (!Array.isArray(uids) || !uids.every((u): u is string => typeof u === 'string')) return undefined;
  if (o.op === 'disconnect' && typeof o.reason === 'string' && typeof o.reconnect === 'boolean')
    return { op: 'disconnect', uids, reason: o.reason, reconnect: o.reconnect };
  if (o.op === 'revoke' && typeof o.at === 'number' && Number.isSafeInteger(o.at))
    return { op: 'revoke', uids, at: o.at };
  if (
    o.op === 'notice' &&
    typeof o.reason === 'string' &&
    typeof o.reconnect === 'boolean' &&
    typeof o.at === 'number' &&
    Number.isSafeInteger(o.at) &&
    typeof o.position === 'string' &&
    o.position.length <= 64
  )
    return { op: 'notice', uids, reason: o.reason, reconnect: o.reconnect, at: o.at, position: o.position };
  return undefined;
}
