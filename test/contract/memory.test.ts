import { MemoryBroker } from '../../src/broker-memory.js';
import { MemoryDisconnectNotices } from '../../src/disconnect-notices-memory.js';
import { MemoryPresence } from '../../src/presence-memory.js';
import { MemoryRevocations } from '../../src/revocations-memory.js';
import { MemoryRuntimeGroups } from '../../src/runtime-groups-memory.js';
import { brokerContract } from './broker-contract.js';
import { disconnectNoticesContract } from './disconnect-notices-contract.js';
import { presenceContract } from './presence-contract.js';
import { revocationsContract } from './revocations-contract.js';
import { runtimeGroupsContract } from './runtime-groups-contract.js';

brokerContract('MemoryBroker', async (o) => {
  const broker = new MemoryBroker({
    size: o.size,
    ttlMs: o.ttlMs,
    maxStreams: o.maxStreams,
    maxBytes: 64 * 1024 * 1024,
  });
  return { broker, close: () => broker.close() };
});

presenceContract('MemoryPresence', async (local) => {
  const presence = new MemoryPresence(local);
  return { presence, close: () => presence.close() };
});

revocationsContract('MemoryRevocations', async (opts) => {
  const revocations = new MemoryRevocations(opts);
  return { revocations, close: () => revocations.close() };
});

runtimeGroupsContract('MemoryRuntimeGroups', async (opts) => {
  const store = new MemoryRuntimeGroups(opts);
  return { a: store, b: store, close: () => store.close() };
});

disconnectNoticesContract('MemoryDisconnectNotices', async (opts) => {
  const notices = new MemoryDisconnectNotices(opts);
  return { notices, close: () => notices.close() };
});
