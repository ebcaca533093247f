import { MemoryWebhookQueue } from '../../src/webhook-queue-memory.js';
import { webhookQueueContract } from './webhook-queue-contract.js';

webhookQueueContract('memory', async (max) => new MemoryWebhookQueue(max));
