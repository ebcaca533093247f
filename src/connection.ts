/**
 * Compatibility re-exports: the two connection kinds now live in `stream-session.ts` and
 * `poll-session.ts`, what they share in `member.ts`. Import from those; this file goes once
 * nothing imports it.
 */
import type { Subscriber } from './auth.js';
import { type SseSink, StreamSession } from './stream-session.js';

export { type CloseReason, MAX_PENDING, Member } from './member.js';
export { POLL_BATCH_MAX, type PollAnswer, PollSession as PollConn } from './poll-session.js';
export type { SseSink } from './stream-session.js';

/** A stream with the former constructor (a slow callback instead of a session host). */
export class SseConn extends StreamSession {
  constructor(sub: Subscriber, sink: SseSink, onSlow: (c: SseConn) => void, maxBuffered: number) {
    super(sub, sink, { slow: () => onSlow(this), ended: () => {} }, maxBuffered);
  }
}
