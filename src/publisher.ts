import type { Broker } from './broker.js';
import { type OnceArgs, type OnceResult, onceAbility } from './idempotency.js';
import type { Member } from './member.js';
import type { Message, PublishInput } from './message.js';
import type { Metrics } from './metrics.js';
import type { Presence } from './presence.js';
import type { Registry } from './registry.js';

/** The answer to one published message. */
export interface PushResult {
  readonly id: string;
  /** Whether any addressed uid or group (anyone, for a broadcast) had a live connection. */
  readonly online: boolean;
  /** Connections (streams and waiting polls) the message was handed to. */
  readonly delivered: number;
}

/**
 * Publishes through the broker and reports, per message, who was reached: counted on this node's
 * registry when it is the presence (memory mode), else asked of the cluster's presence. Whether
 * the hub accepts a publish at all is the hub's to check, before calling.
 */
export class Publisher {
  constructor(
    private readonly broker: Broker,
    private readonly presence: Presence,
    private readonly registry: Registry<Member>,
    /** Presence is this node's registry (no cluster): reach can be counted without asking. */
    private readonly localPresence: boolean,
    private readonly metrics: Metrics | undefined,
  ) {}

  /** Publishes validated messages in order through the broker (asked asynchronously). */
  async publish(inputs: readonly PublishInput[]): Promise<PushResult[]> {
    return this.report(await this.broker.publish(inputs));
  }

  /**
   * `publish` finished in this call when the broker stores in process and presence is this
   * node's registry (memory mode); `undefined` when the broker must be asked (Redis), and then
   * nothing was published. A push in memory mode then runs from its request's last byte to its
   * answer without a promise: each async hop cost garbage and a microtask turn per push.
   */
  publishNow(inputs: readonly PublishInput[]): PushResult[] | undefined {
    if (!this.localPresence || !this.broker.publishNow) return undefined;
    const messages = this.broker.publishNow(inputs);
    this.metrics?.published.inc(messages.length);
    return messages.map((m) => {
      const delivered = this.registry.reach(m);
      return { id: m.id, online: delivered > 0, delivered };
    });
  }

  /**
   * Publishes unless `once.key` is already recorded, the look-up and the publish being one atomic
   * broker step (issue 17; brokers with the `OnceBroker` ability, i.e. Redis).
   */
  async publishOnce(inputs: readonly PublishInput[], once: OnceArgs): Promise<OnceResult<PushResult[]>> {
    const b = onceAbility(this.broker);
    if (!b) throw new Error('this broker cannot publish with an idempotency key');
    const r = await b.publishOnce(inputs, once);
    return r.kind === 'recorded' ? r : { kind: 'published', value: await this.report(r.value) };
  }

  /** Counts, per message the broker just stored, who was reached. */
  private async report(messages: Message[]): Promise<PushResult[]> {
    this.metrics?.published.inc(messages.length);
    // The messages are accepted at this point: a failed presence read must not turn into an error.
    const counts = await this.presence
      .reach(messages)
      .catch(() => messages.map((m) => this.registry.reach(m)));
    return messages.map((m, i) => {
      const delivered = counts[i]!;
      return { id: m.id, online: delivered > 0, delivered };
    });
  }
}
