/**
 * The one interface both transports (an EventSource stream, a long-poll loop) sit behind. A
 * transport is one connection attempt: the link creates one, starts it, and creates the next
 * after it failed. It reports through `TransportEvents` and never sees the client.
 */
import type { PushDisconnect, PushMessage, PushReset, PushTransport } from '../../public/ssepush.js';

/** Where a transport delivers, and what it needs to know to resume. */
export interface Delivery {
  /** The id to resume after (`undefined`: from now). */
  readonly lastId: string | undefined;
  /** Every event name some tab listens for. */
  readonly names: ReadonlySet<string>;
  message(m: PushMessage): void;
  reset(r: PushReset): void;
  /** A position without a message (an empty poll's cursor): later resumes start here. */
  position(id: string): void;
}

export interface TransportEvents extends Delivery {
  /** The server accepted the connection (a stream opened, a poll answered). */
  opened(): void;
  /** The attempt is over; the link retries with backoff (or stops, for an `AuthError`). */
  failed(err: unknown): void;
  /** The backend ended the connection (`POST /disconnect`); the attempt is over. */
  disconnected(d: PushDisconnect): void;
}

export interface Transport {
  readonly kind: PushTransport;
  start(): void;
  /** Starts listening for another event name (long-poll already hears every name). */
  listen(name: string): void;
  /** The page came back from the back/forward cache: a stream the browser closed has failed. */
  revive(): void;
  /** Ends the attempt without reporting anything. Idempotent. */
  close(): void;
}

/** Exponential backoff with jitter: between half and all of min·2^(n-1), capped at max. */
export function backoff(n: number, min: number, max: number): number {
  const cap = Math.min(max, min * 2 ** (n - 1));
  return cap / 2 + Math.random() * (cap / 2);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
