import type { Subscriber } from './auth.js';
import type { Broker } from './broker.js';
import type { Control, ControlCommand } from './control.js';
import { type DisconnectNotice, type DisconnectNotices, markInput, untold } from './disconnect-notices.js';
import { unauthorized } from './errors.js';
import type { Mark } from './ids.js';
import type { Logger } from './logger.js';
import type { Member } from './member.js';
import type { Metrics } from './metrics.js';
import type { Presence } from './presence.js';
import type { Registry } from './registry.js';
import { nowSec, type Revocations } from './revocations.js';

/** What `POST /disconnect` asks: whose connections end, what they are told, and whether to revoke. */
export interface DisconnectRequest {
  readonly uids: readonly string[];
  readonly reason: string;
  readonly reconnect: boolean;
  readonly revoke: boolean;
}

/** What `Disconnects` needs of the hub it serves. */
export interface DisconnectsHost {
  readonly broker: Broker;
  readonly registry: Registry<Member>;
  readonly presence: Presence;
  /** The newest position this node has fanned out (told to the connections it ends). */
  head(): Mark | undefined;
  readonly metrics: Metrics | undefined;
  readonly log: Logger;
  /** Seconds a disconnect notice is kept for long-poll clients; 0 = none are kept. */
  readonly noticeSec: number;
}

/**
 * `POST /disconnect` across the deployment: the control channel that carries it to every node
 * (this one alone in memory mode), the revocations that refuse the older tokens of its uids
 * afterwards, and the notices left for long-poll clients that were between two polls.
 */
export class Disconnects {
  constructor(
    /** Carries `POST /disconnect` to every node (this one alone in memory mode). */
    private readonly control: Control,
    private readonly revocations: Revocations,
    /** What `POST /disconnect` told whom, for polls that were between two requests (see `noticeFor`). */
    private readonly notices: DisconnectNotices,
    private readonly host: DisconnectsHost,
  ) {
    control.listen((cmd) => this.apply(cmd));
  }

  /**
   * A promise to await before `checkRevoked` while revocations reload after a Redis blip (one
   * round trip; at most 2 s, then `checkRevoked` answers 503): a client reconnecting right after
   * a blip is served, not refused. `undefined` (the usual case) when they can answer now.
   */
  revocationsLoading(): Promise<void> | undefined {
    return this.revocations.loading?.(2000);
  }

  /**
   * Refuses (401 `token_revoked`) a subscriber whose token was revoked; call on every connect,
   * after the token is verified and before anything is written. A poll from `cursor` that the
   * revoking call ended without telling (its client was between two polls) is told in the refusal
   * (`"disconnect": {reason, reconnect}`): refused, it would never reach `noticeFor`, and a token
   * signed after the call is not told. Nothing is delivered to the revoked token.
   */
  checkRevoked(sub: Subscriber, cursor?: string): void {
    if (this.revocations.isRevoked(sub.uid, sub.issuedAt)) {
      this.host.metrics?.rejected.inc({ limit: 'revoked' });
      const n = cursor === undefined ? undefined : this.noticeFor(sub, cursor);
      throw unauthorized(
        'this token was revoked; sign a new one',
        'token_revoked',
        n && { disconnect: { reason: n.reason, reconnect: n.reconnect } },
      );
    }
  }

  /**
   * Ends every stream and waiting poll of `uids` on every node, revoking their older tokens first
   * when asked, so a client that reconnects at once is already refused, and leaving a notice for
   * their long-poll clients between two polls (see `noticeFor`). Answers what presence knew of
   * them at the call: uids online and their connections.
   */
  async disconnect(req: DisconnectRequest): Promise<{ uids: number; connections: number }> {
    const stats = await this.host.presence.online(req.uids);
    let uids = 0;
    let connections = 0;
    for (const n of Object.values(stats.online ?? {})) {
      if (n > 0) uids++;
      connections += n;
    }
    const atSec = nowSec();
    if (req.revoke) await this.revocations.revoke(req.uids, atSec);
    if (this.host.noticeSec > 0) {
      // The call takes a position of its own (see `markInput`), published before the disconnect:
      // every answer from now on carries a cursor at or past it.
      const [mark] = await this.host.broker.publish([markInput(req.reason)]);
      const { uids: targets, reason, reconnect } = req;
      await this.notices.record({ uids: targets, reason, reconnect, atSec, position: mark!.id });
    }
    await this.control.send({
      op: 'disconnect',
      uids: req.uids,
      reason: req.reason,
      reconnect: req.reconnect,
    });
    return { uids, connections };
  }

  /**
   * The disconnect `sub`'s poll from `cursor` has not been told of, if any: its client was between
   * two polls when the call came (a token from before the call, a cursor not past it).
   */
  noticeFor(sub: Subscriber, cursor: string): DisconnectNotice | undefined {
    const n = this.notices.find(sub.uid);
    return n && untold(n, cursor, sub.issuedAt) ? n : undefined;
  }

  async close(): Promise<void> {
    await this.control.close();
    await this.revocations.close();
    await this.notices.close();
  }

  /** A control command from any node (this one included). */
  private apply(cmd: ControlCommand): void {
    if (cmd.op !== 'disconnect') return;
    const members: Member[] = [];
    this.host.registry.forEachAddressed({ to: cmd.uids, groups: [] }, (m) => members.push(m));
    for (const m of members) m.disconnect(cmd.reason, cmd.reconnect, this.host.head());
    if (members.length > 0)
      this.host.log.info({ uids: cmd.uids.length, connections: members.length }, 'connections disconnected');
  }
}
