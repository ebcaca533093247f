/** A subscriber that behaves like EventSource: it reconnects with Last-Event-ID whenever its stream ends. */
import { openEvents, type SpawnedServer, type SseClient } from '../helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An EventSource-like subscriber: reconnects with Last-Event-ID whenever its stream ends. */
export class Resuming {
  readonly ids: string[] = [];
  resets = 0;
  reconnects = 0;
  private current: SseClient | undefined;
  private stopped = false;
  private seen = 0;
  readonly done: Promise<void>;

  constructor(
    private readonly node: SpawnedServer,
    private readonly token: string,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    let lastId: string | undefined;
    while (!this.stopped) {
      let c: SseClient;
      try {
        c = await openEvents(this.node.url, this.token, lastId);
      } catch {
        await sleep(100);
        continue;
      }
      this.current = c;
      if (c.status !== 200) {
        c.close();
        await sleep(200);
        continue;
      }
      this.seen = 0;
      while (!c.closed || this.seen < c.events.length) {
        for (; this.seen < c.events.length; this.seen++) {
          const ev = c.events[this.seen]!;
          if (ev.event === 'reset') this.resets++;
          else this.ids.push(ev.id!);
        }
        if (c.closed) break;
        await c.waitUntil(() => c.events.length > this.seen || c.closed, 60_000).catch(() => {});
      }
      lastId = c.lastId ?? lastId;
      if (this.stopped) break;
      this.reconnects++;
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.close();
    await this.done;
  }
}
