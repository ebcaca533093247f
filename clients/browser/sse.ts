/**
 * The stream transport: one EventSource. EventSource would retry on its own every `retry:` ms,
 * forever and in step with every other client; on the first error we close it and report the
 * failure, so the link reconnects with backoff, jitter, and our own last id.
 */
import { type Api, disconnectOf, parseJson } from './http.js';
import type { Transport, TransportEvents } from './transport.js';

export interface SseOptions {
  withCredentials: boolean;
  /** Milliseconds the stream may take to open before it counts as failed. */
  openTimeout: number;
}

export class SseTransport implements Transport {
  readonly kind = 'sse';
  private es: EventSource | null = null;
  private openTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onEvent = (ev: Event) => this.event(ev as MessageEvent<string>);
  private readonly onDisconnect = (ev: Event) => {
    if (ev.target !== this.es) return;
    // The server ends the stream next: close first, so its end is not reported as a failure.
    this.close();
    this.to.disconnected(disconnectOf(parseJson((ev as MessageEvent<string>).data)));
  };

  constructor(
    private readonly api: Api,
    private readonly o: SseOptions,
    private readonly to: TransportEvents,
  ) {}

  start(): void {
    const es = new globalThis.EventSource(this.api.url('/events', { lastEventId: this.to.lastId }), {
      withCredentials: !!this.o.withCredentials,
    });
    this.es = es;
    this.openTimer = setTimeout(() => this.failed(es), this.o.openTimeout);
    es.onopen = () => {
      clearTimeout(this.openTimer);
      if (es === this.es) this.to.opened();
    };
    es.onerror = () => {
      clearTimeout(this.openTimer);
      this.failed(es);
    };
    es.addEventListener('reset', this.onEvent);
    es.addEventListener('disconnect', this.onDisconnect);
    for (const name of this.to.names) es.addEventListener(name, this.onEvent);
  }

  listen(name: string): void {
    if (this.es) this.es.addEventListener(name, this.onEvent);
  }

  revive(): void {
    if (this.es && this.es.readyState === 2) this.failed(this.es);
  }

  close(): void {
    clearTimeout(this.openTimer);
    if (!this.es) return;
    this.es.onopen = null;
    this.es.onerror = null;
    this.es.close();
    this.es = null;
  }

  private event(ev: MessageEvent<string>): void {
    if (ev.target !== this.es) return;
    const data = parseJson(ev.data) as { reason?: unknown } | undefined;
    if (ev.type === 'reset') {
      this.to.reset({ id: ev.lastEventId, reason: data?.reason ? String(data.reason) : 'reset' });
    } else {
      this.to.message({ id: ev.lastEventId, event: ev.type, data: data === undefined ? ev.data : data });
    }
  }

  private failed(es: EventSource): void {
    if (es !== this.es) return;
    this.close();
    this.to.failed(new Error('ssepush: stream interrupted'));
  }
}
