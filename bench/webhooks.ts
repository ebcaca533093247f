/**
 * Presence webhooks under a connection burst, one in-memory server and a fast local receiver on
 * loopback: how many requests N uids connecting at once cost (batching), the events per second
 * the sender sustains, and the time from the last disconnect to each offline event beyond the
 * grace. Clients are raw sockets in a child-free loop; N is bounded by the fd limit (server and
 * clients share this process: 2 fds per connection).
 *
 *   npm run bench:webhooks -- [--n 5000] [--grace 1]
 */
import { createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import jwt from 'jsonwebtoken';
import { verifyWebhook, type WebhookEvent } from '../clients/node/webhook.js';
import { loadConfig } from '../src/config.js';
import { SsePushServer } from '../src/server.js';
import { MemoryWebhookQueue } from '../src/webhook-queue-memory.js';
import { WebhookSender } from '../src/webhook-sender.js';
import { parseArgs } from './lib/measure.js';

const args = parseArgs(process.argv.slice(2));
const N = Math.min(Number(args.get('n') ?? 5000), 9000);
const GRACE = Number(args.get('grace') ?? 1);
const SECRET = 'bench-webhook-secret-0123456789';
const JWT = 'bench-secret-not-for-production-0123456789';

const events: { e: WebhookEvent; at: number }[] = [];
let requests = 0;
let drain = { events: 0, requests: 0, seconds: 0 };
const rx = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    requests++;
    const now = Date.now();
    for (const e of verifyWebhook(Buffer.concat(chunks), req.headers['ssepush-signature'] as string, SECRET))
      events.push({ e, at: now });
    res.writeHead(204).end();
  });
});
await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
const rxPort = (rx.address() as AddressInfo).port;

const config = loadConfig({
  JWT_SECRET: JWT,
  LOG_LEVEL: 'warn',
  MAX_CONNECTIONS_PER_UID: '0',
  WEBHOOK_URL: `http://127.0.0.1:${rxPort}/hook`,
  WEBHOOK_SECRET: SECRET,
  OFFLINE_GRACE_SECONDS: String(GRACE),
});
const server = new SsePushServer(config);
const port = await server.listen(0, '127.0.0.1');

const until = async (pred: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out with ${events.length} events, ${requests} requests`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

// The sender alone: N queued events drained to the receiver (batches of up to 100).
{
  const q = new MemoryWebhookQueue(N * 2);
  const t = Date.now();
  await q.push(
    Array.from({ length: N }, (_, i) => ({ id: `d${i}`, type: 'online' as const, uid: `d${i}`, time: t })),
  );
  const sender = new WebhookSender({ url: `http://127.0.0.1:${rxPort}/hook`, secret: SECRET, queue: q });
  sender.start();
  await until(() => events.length >= N, 120_000);
  drain = { events: N, requests, seconds: (Date.now() - t) / 1000 };
  await sender.close();
  events.length = 0;
  requests = 0;
}

const tokens = Array.from({ length: N }, (_, i) =>
  jwt.sign({ sub: `u${i}` }, JWT, { algorithm: 'HS256', expiresIn: 3600 }),
);
const sockets: Socket[] = [];
const cpu0 = process.cpuUsage();
const t0 = Date.now();
// In waves of 250 (the listen backlog would refuse a single burst of thousands of SYNs).
for (let i = 0; i < N; i += 250) {
  const wave: Promise<void>[] = [];
  for (let j = i; j < Math.min(N, i + 250); j++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    wave.push(new Promise((ok) => s.once('connect', () => ok())));
    s.write(`GET /events?token=${tokens[j]} HTTP/1.1\r\nHost: x\r\n\r\n`);
    s.resume();
    sockets.push(s);
  }
  await Promise.all(wave);
}
await until(() => events.length >= N, 120_000);
const onlineMs = Date.now() - t0;
const onlineReqs = requests;
const cpu1 = process.cpuUsage(cpu0);
const closedAt = Date.now();
for (const s of sockets) s.destroy();
await until(() => events.length >= 2 * N, 120_000);
const offline = events.filter((x) => x.e.type === 'offline');
const lateness = offline.map((x) => x.at - closedAt - GRACE * 1000).sort((a, b) => a - b);
const pct = (p: number) => lateness[Math.min(lateness.length - 1, Math.floor((p / 100) * lateness.length))];
const out = {
  senderAlone: { ...drain, eventsPerSecond: Math.round(drain.events / drain.seconds) },
  n: N,
  graceSeconds: GRACE,
  onlineEvents: N,
  onlineRequests: onlineReqs,
  eventsPerRequest: +(N / onlineReqs).toFixed(1),
  burstSeconds: onlineMs / 1000,
  eventsPerSecond: Math.round(N / (onlineMs / 1000)),
  processCpuMsDuringBurst: Math.round((cpu1.user + cpu1.system) / 1000),
  offlineRequests: requests - onlineReqs,
  offlineBeyondGraceMs: { p50: pct(50), p99: pct(99), max: lateness[lateness.length - 1] },
  duplicates: events.length - new Set(events.map((x) => x.e.id)).size,
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
await server.close();
rx.close();
process.exit(0);
