import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/broker-memory.js';
import { MemoryIdempotencyStore } from '../../src/idempotency-memory.js';
import { hubOver, idempotencyContract, keyed } from './idempotency-contract.js';

const broker = () => new MemoryBroker({ size: 100, ttlMs: 0, maxStreams: 1000, maxBytes: 1 << 24 });

idempotencyContract('MemoryIdempotencyStore', async ({ ttlMs }) => {
  const { hub, seen } = hubOver(broker());
  const store = new MemoryIdempotencyStore({ ttlMs, maxKeys: 1000 });
  return {
    store,
    hub,
    seen,
    async close() {
      await store.close();
      await hub.close();
    },
  };
});

describe('MemoryIdempotencyStore bound', () => {
  it('keeps at most maxKeys keys, forgetting the least recently used first', async () => {
    const { hub, seen } = hubOver(broker());
    const store = new MemoryIdempotencyStore({ ttlMs: 60_000, maxKeys: 3 });
    const m = { to: ['u'], groups: [], event: 'message', data: '1' };
    for (const k of ['a', 'b', 'c']) await store.run(keyed(k, [m]), hub);
    await store.run(keyed('a', [m]), hub); // a is now the most recently used
    await store.run(keyed('d', [m]), hub); // evicts b
    expect(store.size).toBe(3);
    expect((await store.run(keyed('a', [m]), hub)).kind).toBe('replayed');
    expect((await store.run(keyed('b', [m]), hub)).kind).toBe('published');
    expect(seen.length).toBe(5);
    await store.close();
    await hub.close();
  });
});
