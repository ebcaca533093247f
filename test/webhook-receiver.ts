/**
 * A real webhook receiver on loopback for tests: verifies every request with the same code the
 * Node SDK ships, records the events, and answers what the test says (2xx by default).
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook, type WebhookEvent } from '../clients/node/webhook.js';

export const WEBHOOK_SECRET = 'webhook-secret-for-tests-0123';

export interface Receiver {
  readonly url: string;
  /** Every verified event, in arrival order (retries included). */
  readonly events: WebhookEvent[];
  /** Every verified event of every request, whatever it was answered (failed attempts too). */
  readonly attempted: WebhookEvent[];
  /** Requests received (verified or not). */
  requests: number;
  /** Requests whose signature did not verify. */
  rejected: number;
  /** How the next requests are answered: status, or 'hang'. */
  answer: number | 'hang';
  /** Events of `uid`, in order, each id once (what a deduping receiver keeps). */
  of(uid: string): WebhookEvent[];
  close(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const hung: ServerResponse[] = [];
  const r: Receiver = {
    url: '',
    events: [],
    attempted: [],
    requests: 0,
    rejected: 0,
    answer: 204,
    of(uid) {
      const seen = new Set<string>();
      return r.events.filter((e) => e.uid === uid && !seen.has(e.id) && seen.add(e.id));
    },
    close: () =>
      new Promise((ok) => {
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.requests++;
      const answer = r.answer;
      if (answer === 'hang') {
        hung.push(res);
        return;
      }
      try {
        const events = verifyWebhook(
          Buffer.concat(chunks),
          req.headers['ssepush-signature'] as string | undefined,
          WEBHOOK_SECRET,
        );
        r.attempted.push(...events);
        if (answer >= 200 && answer < 300) r.events.push(...events);
      } catch {
        r.rejected++;
        res.writeHead(400).end();
        return;
      }
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  (r as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/ssepush`;
  return r;
}

/** A counter or gauge of a server's `/metrics` (0 when absent). */
export async function metricOf(serverUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${serverUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
