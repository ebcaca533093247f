import { newEpoch } from './ids.js';

/**
 * The newest position this process has seen Redis issue (publish answers, fan-out, positions,
 * replays), and the epoch it proposes when Redis has none. Sent with every script: if Redis comes
 * back older than this (restored from older data), the script moves its counter past it instead
 * of issuing these ids again.
 */
export class IssuedPosition {
  /** Random part of the epoch this process creates when Redis has none (first use, or wiped). */
  private readonly candidate = newEpoch().slice(0, 8);
  private seenEpoch = '';
  private seenSeq = 0;

  /** `candidate, seenEpoch, seenSeq`: the arguments every script takes, in this order. */
  args(): [candidate: string, seenEpoch: string, seenSeq: number] {
    return [this.candidate, this.seenEpoch, this.seenSeq];
  }

  /** Records a position Redis issued; a new epoch (a wiped Redis) starts over. */
  saw(epoch: string, seq: number): void {
    if (!Number.isSafeInteger(seq)) return;
    if (epoch !== this.seenEpoch) {
      this.seenEpoch = epoch;
      this.seenSeq = seq;
    } else if (seq > this.seenSeq) this.seenSeq = seq;
  }
}
