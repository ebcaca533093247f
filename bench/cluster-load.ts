/**
 * Load client of `bench/cluster-conns.ts`, forked once per few thousand connections: opens SSE
 * subscriptions over raw sockets from its own loopback source address (127.0.0.x, so the
 * ~28k ephemeral ports per source address are not the limit), signs its own tokens, and counts
 * answers and receipts of a marker string. Driven over IPC; exits when the parent goes away.
 */
import net from 'node:net';
import jwt from 'jsonwebtoken';

export type LoadCommand =
  | {
      type: 'open';
      port: number;
      localAddress: string;
      secret: string;
      uids: [number, number];
      concurrency: number;
      timeoutMs: number;
      /** Text whose arrival on each connection `count` reports. */
      marker: string;
      /** Uids repeat every `uidMod` numbers (several connections per uid); default: one each. */
      uidMod?: number;
      /** Each connection's token names group `g<uid number % groups>`; default: no groups. */
      groups?: number;
    }
  | { type: 'count'; marker: string }
  /** Starts counting receipts of more marker strings. */
  | { type: 'watch'; markers: string[] }
  | { type: 'close' };

export type LoadReply =
  | { type: 'opened'; ok: number; failed: number; errors: Record<string, number>; ms: number }
  | { type: 'counted'; open: number; got: number };

interface Conn {
  sock: net.Socket;
  status: number;
  tail: string;
  got: Set<string>;
}

const conns: Conn[] = [];
const markers = new Set<string>();
const send = (r: LoadReply) => process.send?.(r);

function openOne(
  port: number,
  localAddress: string,
  path: string,
  timeoutMs: number,
  errors: Record<string, number>,
): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress, noDelay: true });
    const c: Conn = { sock, status: 0, tail: '', got: new Set() };
    let settled = false;
    const settle = (ok: boolean, why?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (why) errors[why] = (errors[why] ?? 0) + 1;
      if (ok) conns.push(c);
      else sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => settle(false, 'timeout'), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('error', (err: NodeJS.ErrnoException) => settle(false, err.code ?? 'error'));
    sock.on('close', () => {
      c.status = -1;
      settle(false, 'closed');
    });
    sock.on('data', (chunk: string) => {
      if (c.status === 0) {
        const m = /^HTTP\/1\.1 (\d{3})/.exec(chunk);
        c.status = m ? Number(m[1]) : 1;
        settle(c.status === 200, c.status === 200 ? undefined : `http_${c.status}`);
      }
      const text = c.tail + chunk;
      for (const mk of markers) if (!c.got.has(mk) && text.includes(mk)) c.got.add(mk);
      c.tail = text.slice(-64);
    });
    sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
  });
}

process.on('message', async (cmd: LoadCommand) => {
  if (cmd.type === 'open') {
    markers.add(cmd.marker);
    const started = Date.now();
    const errors: Record<string, number> = {};
    let next = cmd.uids[0];
    let ok = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: cmd.concurrency }, async () => {
        while (next < cmd.uids[1]) {
          const n = cmd.uidMod ? next++ % cmd.uidMod : next++;
          const claims = cmd.groups ? { sub: `l${n}`, groups: [`g${n % cmd.groups}`] } : { sub: `l${n}` };
          const token = jwt.sign(claims, cmd.secret, { algorithm: 'HS256', expiresIn: 7200 });
          const path = `/events?token=${token}`;
          if (await openOne(cmd.port, cmd.localAddress, path, cmd.timeoutMs, errors)) ok++;
          else failed++;
        }
      }),
    );
    send({ type: 'opened', ok, failed, errors, ms: Date.now() - started });
  } else if (cmd.type === 'watch') {
    for (const m of cmd.markers) markers.add(m);
    send({ type: 'counted', open: 0, got: 0 });
  } else if (cmd.type === 'count') {
    let open = 0;
    let got = 0;
    for (const c of conns) {
      if (c.status === 200) open++;
      if (c.got.has(cmd.marker)) got++;
    }
    send({ type: 'counted', open, got });
  } else {
    for (const c of conns) c.sock.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(0), 20 * 60_000).unref();
