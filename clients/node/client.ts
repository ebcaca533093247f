/**
 * The backend client for Node: signs its own publisher tokens (or uses a given one), pushes
 * through `POST /push`, asks `GET /online`, and mints subscriber tokens to hand to a page.
 * It imports nothing from the server, only `node:crypto` and the global `fetch`, so
 * `import { PushClient } from 'ssepush'` stays light. Same API as the PHP and Python clients.
 *
 * This file is the public face (`ssepush/client`); each concept lives in its own file:
 * `client-types.ts` (options, answers, `PushError`), `client-tokens.ts` (JWT signing),
 * `client-transport.ts` (requests and errors), `client-push.ts` (publishing and retries),
 * `client-presence.ts` (who is online), `client-control.ts` (kicks and runtime groups).
 */
import { changeGroups, disconnect } from './client-control.js';
import { groupCounts, online, onlineUids } from './client-presence.js';
import { sendBatch, sendOne } from './client-push.js';
import { Tokens } from './client-tokens.js';
import { Transport } from './client-transport.js';
import type {
  Counts,
  DisconnectOptions,
  Name,
  OnlineResult,
  PushClientOptions,
  PushMessage,
  PushResult,
  Scope,
} from './client-types.js';

export { signJwt } from './client-tokens.js';
export {
  type Counts,
  type DisconnectOptions,
  type Name,
  type OnlineResult,
  type PushClientOptions,
  PushError,
  type PushMessage,
  type PushResult,
  type Scope,
} from './client-types.js';
export {
  DEFAULT_TOLERANCE_SECONDS,
  verifyWebhook,
  type WebhookEvent,
  WebhookVerifyError,
} from './webhook.js';

/** Publishes to an ssepush server from a Node backend. */
export class PushClient {
  private readonly tokens: Tokens;
  private readonly t: Transport;

  constructor(
    baseUrl: string,
    private readonly options: PushClientOptions,
  ) {
    if (!/^https?:\/\//i.test(baseUrl))
      throw new TypeError('ssepush: baseUrl must start with http:// or https://');
    if (!options.secret && !options.publisherSecret && !options.token) {
      throw new TypeError('ssepush: give "secret" (the server\'s JWT_SECRET) or a publisher "token"');
    }
    this.tokens = new Tokens(options);
    this.t = new Transport(baseUrl, this.tokens, options);
  }

  /** Pushes `data` to one uid or several (every connection of each), minus `exclude`. */
  push(to: Name | Name[], data: unknown, event = 'message', exclude?: Name | Name[]): Promise<PushResult> {
    return this.send({ to, data, event, ...(exclude !== undefined ? { exclude } : {}) });
  }

  /** Pushes `data` to everyone whose groups name the group (or any of the groups), minus `exclude`. */
  pushToGroup(
    group: Name | Name[],
    data: unknown,
    event = 'message',
    exclude?: Name | Name[],
  ): Promise<PushResult> {
    return this.send({ group, data, event, ...(exclude !== undefined ? { exclude } : {}) });
  }

  /** Pushes `data` to every connection, minus `exclude`. */
  broadcast(data: unknown, event = 'message', exclude?: Name | Name[]): Promise<PushResult> {
    return this.send({ data, event, ...(exclude !== undefined ? { exclude } : {}) });
  }

  /**
   * Pushes one message with any mix of `to` and `group`. `idempotencyKey` (1-128 of
   * `[A-Za-z0-9._:-]`, e.g. `order-1001-paid`) makes it safe to repeat: the server publishes it
   * once and answers every repeat alike.
   */
  async send(message: PushMessage, idempotencyKey?: string): Promise<PushResult> {
    return sendOne(this.t, this.options, message, idempotencyKey);
  }

  /** Publishes 1–1000 messages in one request; all or none (one bad item fails the whole batch). */
  async batch(messages: PushMessage[], idempotencyKey?: string): Promise<PushResult[]> {
    return sendBatch(this.t, this.options, messages, idempotencyKey);
  }

  /** Totals of uids and connections online, plus connections per uid for the uids asked. */
  online(uids: Name[] = []): Promise<OnlineResult> {
    return online(this.t, uids);
  }

  /** Connections of one uid (0 when offline). */
  async connectionsOf(uid: Name): Promise<number> {
    const r = await this.online([uid]);
    return r.online?.[String(uid)] ?? 0;
  }

  /** Online uids and connections per group: `{ room: { uids: 3, connections: 5 } }`. */
  async groupCounts(groups: Name[]): Promise<Record<string, Counts>> {
    return groupCounts(this.t, groups);
  }

  /**
   * Every online uid (or every online member of `group`), fetched `pageSize` (1–1000) at a time
   * as the loop asks for more; a walk names no uid twice.
   */
  onlineUids(group?: Name, pageSize = 1000): AsyncGenerator<string, void, undefined> {
    return onlineUids(this.t, group, pageSize);
  }

  /**
   * Ends every stream and waiting poll of the uid(s) (up to 1000) on every node; pages get
   * `event: disconnect` with `{reason, reconnect}`. `revoke` also refuses their subscriber tokens
   * issued before the call (`401 token_revoked`). Answers how many were online.
   */
  disconnect(uid: Name | Name[], options: DisconnectOptions = {}): Promise<Counts> {
    return disconnect(this.t, uid, options);
  }

  /** Adds the uid(s) to the group(s) at run time: live connections, reconnects, every node. */
  joinGroup(uid: Name | Name[], groups: Name | Name[]): Promise<Counts> {
    return this.groups(uid, { join: groups });
  }

  /** Removes the uid(s) from the group(s) at run time, token groups included. */
  leaveGroup(uid: Name | Name[], groups: Name | Name[]): Promise<Counts> {
    return this.groups(uid, { leave: groups });
  }

  /** Joins and leaves in one `POST /groups`; a group may not be in both. */
  groups(uid: Name | Name[], change: { join?: Name | Name[]; leave?: Name | Name[] }): Promise<Counts> {
    return changeGroups(this.t, uid, change);
  }

  /** A subscriber token for the page: `/events?token=…` or `ssepush.js`. Needs `secret`. */
  subscriberToken(uid: Name, groups: Name[] = [], ttlSec = 3600): string {
    return this.tokens.subscriber(uid, groups, ttlSec);
  }

  /**
   * The `token` option, or one signed for `scope`, cached until shortly before it expires.
   * @internal public for the offline tests that read the scopes the client signs.
   */
  publisherToken(scope: Scope = 'push'): string {
    return this.tokens.publisher(scope);
  }
}
