/**
 * In-process fakes for hub tests: a sink that records (and parses) what the hub writes and can
 * pretend its client stopped reading, and a broker whose replay waits for the test.
 */
import type { BrokerReplay } from '../src/broker.js';
import { MemoryBroker } from '../src/broker-memory.js';
import type { SseSink } from '../src/stream-session.js';

/** A sink that parses what the hub writes, and can pretend the client stopped reading. */
export class FakeSink implements SseSink {
  out = '';
  ended = false;
  destroyed = false;
  stalled = false;
  get writableLength(): number {
    return this.stalled ? this.out.length : 0;
  }
  write(chunk: string): boolean {
    this.out += chunk;
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** Dispatched events as [id, event, data]. */
  get events(): (string | undefined)[][] {
    return this.out
      .split('\n\n')
      .map((b) =>
        Object.fromEntries(
          b.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
        ),
      )
      .filter((f) => f.data !== undefined)
      .map((f) => [f.id, f.event, f.data]);
  }
}

/** A memory broker whose replay waits until the test releases it: the replay/live seam, widened. */
export class SlowReplayBroker extends MemoryBroker {
  release: () => void = () => {};
  override async replay(streams: readonly string[], resumeId: string): Promise<BrokerReplay> {
    const r = await super.replay(streams, resumeId);
    await new Promise<void>((resolve) => {
      this.release = resolve;
    });
    return r;
  }
}
