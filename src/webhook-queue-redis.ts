import { closedError } from './errors.js';
import type { RedisClient } from './redis-connect.js';
import { DEFAULT_WEBHOOK_QUEUE_MAX, type WebhookQueue } from './webhook-queue.js';
import type { WebhookEvent } from './webhook-signature.js';

// Keys (KEYS[1] = `<prefix>wh`, the others derived from it so they share a hash slot when the
// prefix carries a hash tag): `<K>:q` list of event JSON, oldest first; `<K>:lease` the sender's
// owner id with a PX expiry; `<K>:dropped` events dropped by the bound, ever.

const PUSH = `
local q = KEYS[1] .. ':q'
local max = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('RPUSH', q, ARGV[i]) end
local over = redis.call('LLEN', q) - max
if over > 0 then
  redis.call('LTRIM', q, over, -1)
  redis.call('INCRBY', KEYS[1] .. ':dropped', over)
  return over
end
return 0
`;

const ACK = `
local q = KEYS[1] .. ':q'
local done = {}
for i = 1, #ARGV do done[ARGV[i]] = true end
while true do
  local head = redis.call('LINDEX', q, 0)
  if not head then break end
  local ok, e = pcall(cjson.decode, head)
  if not ok or not done[e.id] then break end
  redis.call('LPOP', q)
end
return 1
`;

const LEASE = `
local k = KEYS[1] .. ':lease'
local cur = redis.call('GET', k)
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
return 1
`;

export interface RedisWebhookQueueOptions {
  readonly client: RedisClient;
  /** Key prefix of the deployment (the broker's). */
  readonly prefix: string;
  /** Events kept at most; see `DEFAULT_WEBHOOK_QUEUE_MAX`. */
  readonly max?: number;
}

/**
 * The deployment's webhook queue in Redis: a node that dies after queueing an event loses
 * nothing, another node's sender delivers it. The lease makes one sender at a time, cluster-wide,
 * so events go out in order.
 */
export class RedisWebhookQueue implements WebhookQueue {
  private readonly key: string;
  private readonly max: number;
  private closed = false;

  constructor(private readonly opts: RedisWebhookQueueOptions) {
    this.key = `${opts.prefix}wh`;
    this.max = opts.max ?? DEFAULT_WEBHOOK_QUEUE_MAX;
  }

  private eval(script: string, args: readonly (string | number)[]): Promise<unknown> {
    if (this.closed) return Promise.reject(closedError('webhook queue'));
    return this.opts.client.eval(script, 1, this.key, ...args);
  }

  async push(events: readonly WebhookEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    return Number(await this.eval(PUSH, [this.max, ...events.map((e) => JSON.stringify(e))]));
  }

  async peek(max: number): Promise<WebhookEvent[]> {
    if (this.closed) throw closedError('webhook queue');
    const raw = await this.opts.client.lrange(`${this.key}:q`, 0, max - 1);
    return raw.map((r) => JSON.parse(r) as WebhookEvent);
  }

  async ack(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.eval(ACK, ids);
  }

  async size(): Promise<number> {
    if (this.closed) throw closedError('webhook queue');
    return this.opts.client.llen(`${this.key}:q`);
  }

  async lease(owner: string, ms: number): Promise<boolean> {
    return Number(await this.eval(LEASE, [owner, Math.ceil(ms)])) === 1;
  }

  /** Stops using the client (the caller owns it); the queue itself stays in Redis. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
