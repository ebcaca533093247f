/**
 * The long-poll transport: `GET /poll` in a loop, each request resuming from the last id. The
 * first request of an attempt does not wait: it confirms the server accepts us (the link turns
 * `open`) and fetches what was missed at once.
 */
import { type AbortBox, type Api, disconnectOf, HttpError, isPollBody, type Params } from './http.js';
import type { Tokens } from './tokens.js';
import { backoff, sleep, type Transport, type TransportEvents } from './transport.js';

export interface PollOptions {
  /** Seconds a poll waits on the server. */
  pollTimeout: number;
  minRetryDelay: number;
  maxRetryDelay: number;
}

export class PollTransport implements Transport {
  readonly kind = 'poll';
  private closed = false;
  private readonly box: AbortBox = {};

  constructor(
    private readonly api: Api,
    private readonly tokens: Tokens,
    private readonly o: PollOptions,
    private readonly to: TransportEvents,
  ) {}

  start(): void {
    this.loop().catch((err) => {
      if (!this.closed) this.to.failed(err);
    });
  }

  listen(): void {}

  revive(): void {}

  close(): void {
    this.closed = true;
    if (this.box.abort) this.box.abort();
  }

  private async loop(): Promise<void> {
    let refreshed = false;
    let first = true;
    let early = 0;
    while (!this.closed) {
      const params: Params = { timeout: first ? 0 : this.o.pollTimeout };
      if (this.to.lastId !== undefined) params.cursor = this.to.lastId;
      const sent = Date.now();
      const r = await this.api.get('/poll', params, (this.o.pollTimeout + 15) * 1000, this.box);
      if (this.closed) return;
      if (r.status === 401) {
        // Revoked while between two polls: the refusal tells the disconnect. Refreshed first, so
        // the reconnect that follows is not refused (and told) again.
        const told = (r.body as { disconnect?: unknown } | null)?.disconnect;
        if (told && typeof told === 'object') {
          const d = disconnectOf(told);
          if (d.reconnect) await this.tokens.refresh();
          if (this.closed) return;
          this.closed = true;
          this.to.disconnected(d);
          return;
        }
        if (refreshed) throw new HttpError(401, 'GET /poll with a fresh token'); // retried with backoff
        await this.tokens.refresh();
        refreshed = true;
        continue;
      }
      if (r.status !== 200 || !isPollBody(r.body)) throw new HttpError(r.status, 'GET /poll');
      refreshed = false;
      if (first) this.to.opened();
      first = false;
      if (r.body.reset) this.to.reset({ id: r.body.cursor, reason: 'history_lost' });
      for (const m of r.body.messages) {
        if (m && typeof m.id === 'string')
          this.to.message({ id: m.id, event: m.event, data: m.data, time: m.time });
      }
      this.to.position(r.body.cursor);
      if (r.body.disconnect) {
        this.closed = true;
        this.to.disconnected(disconnectOf(r.body.disconnect));
        return;
      }
      // A wait that keeps ending at once with nothing (a proxy cutting requests short) must not
      // turn into a request loop: back off as after a failure.
      if (Number(params.timeout) > 0 && r.body.messages.length === 0 && Date.now() - sent < 1000) {
        early++;
        if (early > 1) await sleep(backoff(early - 1, this.o.minRetryDelay, this.o.maxRetryDelay));
      } else early = 0;
    }
  }
}
