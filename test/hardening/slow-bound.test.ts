/**
 * The slow-client bound on one connection, with a sink that never drains: live output past
 * MAX_BUFFERED_BYTES closes the connection, but a replay larger than the bound does not (else a
 * client with a long backlog would be dropped at every resume, forever), and the tolerance
 * shrinks as the replay is read.
 */
import { describe, expect, it } from 'vitest';
import type { Subscriber } from '../../src/auth.js';
import { type SseSink, StreamSession } from '../../src/stream-session.js';

class StuckSink implements SseSink {
  writableLength = 0;
  write(chunk: string): boolean {
    this.writableLength += Buffer.byteLength(chunk);
    return false;
  }
  /** The client reads `n` bytes. */
  drain(n: number): void {
    this.writableLength = Math.max(0, this.writableLength - n);
  }
  end(): void {}
  destroy(): void {}
}

const sub: Subscriber = { uid: 'u', groups: [], expiresAt: undefined };
const KIB = 1024;

function conn(max: number) {
  const sink = new StuckSink();
  let slow = 0;
  const c = new StreamSession(sub, sink, { slow: () => slow++, ended: () => {} }, max);
  c.pending = null;
  return { c, sink, slow: () => slow };
}

describe('slow-client bound', () => {
  it('closes a connection whose unsent live output passes the bound', () => {
    const { c, slow } = conn(64 * KIB);
    for (let i = 0; i < 64; i++) c.write('x'.repeat(KIB));
    expect(slow()).toBe(0);
    c.write('x'.repeat(KIB));
    expect(slow()).toBeGreaterThan(0);
  });

  it('lets a replay larger than the bound through, then holds live output to the bound', () => {
    const { c, slow } = conn(64 * KIB);
    c.writeReplay('r'.repeat(1024 * KIB));
    expect(slow()).toBe(0);
    // Live messages on top of the unread replay are fine up to the bound...
    for (let i = 0; i < 60; i++) c.write('x'.repeat(KIB));
    expect(slow()).toBe(0);
    // ...but not beyond it: the backlog can never exceed the bound plus the replay's size.
    for (let i = 0; i < 10; i++) c.write('x'.repeat(KIB));
    expect(slow()).toBeGreaterThan(0);
  });

  it('ends the tolerance once the replay has been read', () => {
    const { c, sink, slow } = conn(64 * KIB);
    c.writeReplay('r'.repeat(1024 * KIB));
    sink.drain(1020 * KIB);
    for (let i = 0; i < 62; i++) c.write('x'.repeat(KIB));
    expect(slow()).toBe(0);
    for (let i = 0; i < 10; i++) c.write('x'.repeat(KIB));
    expect(slow()).toBeGreaterThan(0);
  });
});
