/**
 * What a connection is told after the backend's history was wiped (a flushed Redis, a new
 * epoch) while this node still remembers the old epoch's head. The broker here is scripted so the
 * test controls exactly which messages this node has fanned out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Subscriber } from '../../src/auth.js';
import type { Broker, BrokerListener, BrokerReplay } from '../../src/broker.js';
import { loadConfig } from '../../src/config.js';
import { Hub } from '../../src/hub.js';
import { formatId, parseId } from '../../src/ids.js';
import { createLogger } from '../../src/logger.js';
import { createMessage, type Message, type PublishInput } from '../../src/message.js';
import type { SseSink } from '../../src/stream-session.js';

/** A Redis-like broker: ids come from a shared counter; fan-out to this node happens when the test says. */
class ScriptedBroker implements Broker {
  readonly healthy = true;
  epoch = 'epocha';
  seq = 0;
  private listeners: BrokerListener[] = [];

  /** Assigns ids (as another node's publish would) without fanning out here. */
  assign(inputs: readonly PublishInput[]): Message[] {
    return inputs.map((i) => {
      const seq = ++this.seq;
      return createMessage(i, formatId(this.epoch, seq), seq, Date.now());
    });
  }
  fanOut(msgs: readonly Message[]): void {
    for (const m of msgs) for (const l of this.listeners) l(m);
  }
  async publish(inputs: readonly PublishInput[]): Promise<Message[]> {
    const out = this.assign(inputs);
    this.fanOut(out);
    return out;
  }
  /** History is irrelevant here: same epoch replays nothing, another epoch is a reset. */
  async replay(_streams: readonly string[], resumeId: string): Promise<BrokerReplay> {
    const position = formatId(this.epoch, this.seq);
    if (parseId(resumeId)?.epoch !== this.epoch)
      return { complete: false, messages: [], position, reason: 'epoch_changed' };
    return { complete: true, messages: [], position };
  }
  async position(): Promise<string> {
    return formatId(this.epoch, this.seq);
  }
  subscribe(l: BrokerListener): void {
    this.listeners.push(l);
  }
  async close(): Promise<void> {
    this.listeners = [];
  }
  /** FLUSHALL: a new epoch, counting from 0 again. */
  wipe(): void {
    this.epoch = 'epochb';
    this.seq = 0;
  }
}

class Sink implements SseSink {
  out = '';
  readonly writableLength = 0;
  write(c: string): boolean {
    this.out += c;
    return true;
  }
  end(): void {}
  destroy(): void {}
  /** Every `id:` line written, in order (bare heartbeat ids included). */
  get ids(): string[] {
    return [...this.out.matchAll(/^id:(.*)$/gm)].map((m) => m[1]!);
  }
  get events(): string[] {
    return [...this.out.matchAll(/^event:(.*)$/gm)].map((m) => m[1]!);
  }
}

const config = loadConfig({ JWT_SECRET: 'x'.repeat(32) });
const log = createLogger('silent');
const sub = (uid: string): Subscriber => ({ uid, groups: [], expiresAt: undefined });
const to = (uid: string): PublishInput => ({ to: [uid], groups: [], event: 'message', data: '1' });
const tick = () => new Promise((r) => setImmediate(r));
/** The hub's shared heartbeat, run now instead of waiting HEARTBEAT_SECONDS. */
const beat = (hub: Hub) => (hub as unknown as { beat(): void }).beat();

let hubs: Hub[] = [];
afterEach(async () => {
  for (const h of hubs) await h.close();
  hubs = [];
});
async function setup(): Promise<{ hub: Hub; broker: ScriptedBroker }> {
  const broker = new ScriptedBroker();
  const hub = new Hub(config, broker, undefined, log);
  hubs.push(hub);
  await hub.publish([to('x'), to('x'), to('x')]); // this node's head: epocha-3
  return { hub, broker };
}

describe('connections that start in a new epoch', () => {
  it('a heartbeat never moves a new-epoch stream back to an old-epoch id (its resume would be a needless reset)', async () => {
    const { hub, broker } = await setup();
    broker.wipe();
    const fresh = new Sink();
    hub.openStream(sub('a'), fresh, undefined);
    const resumed = new Sink();
    hub.openStream(sub('b'), resumed, 'epocha-3');
    await tick();
    expect(fresh.ids).toEqual(['epochb-0']);
    expect(resumed.ids).toEqual(['epochb-0']);
    beat(hub);
    // The client's Last-Event-ID must stay in epoch b: epocha-3 would resume as `epoch_changed`.
    for (const s of [fresh, resumed]) expect(s.ids.every((id) => id.startsWith('epochb-'))).toBe(true);
  });

  it('a stream that went live in the new epoch gets no second reset when the new epoch reaches this node', async () => {
    const { hub, broker } = await setup();
    const old = new Sink();
    hub.openStream(sub('a'), old, undefined); // live in epoch a: it does need its reset
    await tick();
    broker.wipe();
    const resumed = new Sink();
    hub.openStream(sub('a'), resumed, 'epocha-3'); // reset at epochb-0, live from there
    await tick();
    await hub.publish([to('a')]);
    expect(old.events).toEqual(['reset', 'message']);
    expect(resumed.events).toEqual(['reset', 'message']);
  });

  it('a stream live at a new-epoch position ahead of this node gets neither a reset nor messages before it', async () => {
    const { hub, broker } = await setup();
    broker.wipe();
    const early = broker.assign([to('a'), to('a')]); // published elsewhere, not fanned out here yet
    const s = new Sink();
    hub.openStream(sub('a'), s, undefined); // starts at epochb-2
    await tick();
    broker.fanOut(early);
    await hub.publish([to('a')]);
    expect(s.ids).toEqual(['epochb-2', 'epochb-3']);
    expect(s.events).toEqual(['message']);
  });

  it('a late message of the old epoch never reaches a stream that already lives in the new one', async () => {
    const { hub, broker } = await setup();
    const late = broker.assign([to('a'), to('a')]); // epocha-4, -5: published before the wipe, in flight
    broker.wipe();
    const live = new Sink();
    hub.openStream(sub('a'), live, undefined); // live at epochb-0
    await tick();
    const replaying = new Sink();
    hub.openStream(sub('a'), replaying, 'epocha-3'); // its reset is being fetched ...
    broker.fanOut(late.slice(0, 1)); // ... while epocha-4 arrives: queued on it
    await tick();
    broker.fanOut(late.slice(1)); // epocha-5 arrives once both are live in epoch b
    await hub.publish([to('a')]);
    expect(live.ids).toEqual(['epochb-0', 'epochb-1']);
    expect(replaying.ids).toEqual(['epochb-0', 'epochb-1']);
  });

  it('a waiting poll in the new epoch is not answered with a late message of the old one', async () => {
    const { hub, broker } = await setup();
    const late = broker.assign([to('a')]); // epocha-4, in flight
    broker.wipe();
    const answers: string[][] = [];
    hub.poll(sub('a'), 'epochb-0', 5000, (a) => answers.push([...a.messages.map((m) => m.id), a.cursor]));
    broker.fanOut(late); // arrives while the poll's replay is being fetched
    await tick();
    await hub.publish([to('a')]);
    await tick();
    expect(answers).toEqual([['epochb-1', 'epochb-1']]);
  });

  it('a poll holding old-epoch messages when the new epoch arrives gets them, not a reset that drops them', async () => {
    const { hub, broker } = await setup();
    const answers: { ids: string[]; cursor: string; reset: boolean }[] = [];
    hub.poll(sub('a'), 'epocha-3', 5000, (a) =>
      answers.push({ ids: a.messages.map((m) => m.id), cursor: a.cursor, reset: a.reset === true }),
    );
    await tick();
    const last = broker.assign([to('a')]); // epocha-4
    broker.wipe();
    const first = broker.assign([to('a')]); // epochb-1
    broker.fanOut([...last, ...first]); // one read from the subscription: both in the same tick
    await tick();
    expect(answers).toEqual([{ ids: ['epocha-4'], cursor: 'epocha-4', reset: false }]);
  });
});
