// The platform floor for `npm run bench:floor` and `bench:compare`: bare `node:http` doing the
// work ssepush does per operation and nothing else (no token check, no validation, no history,
// no ids beyond a counter, no metrics, no heartbeat), written the cheapest way we know: one
// `writeHead` with the final header list, chunks framed by hand and written straight to the
// socket (as ssepush's SocketSink does). Plain JavaScript so it runs without a build or loader.
//
//   GET  /events?uid=<uid>&token=<ignored>  SSE stream: headers, then one chunk `id:<n>`
//   POST /push  {"to","data"} | {"data"} | [...]  one SSE chunk per recipient, answered
//               {"id","online","delivered"} (an array for an array)
//   GET  /healthz, /count (open streams), /heap (used JS heap bytes)
//
// Env: PORT, HOST; SSEPUSH_PRETENURING=1 keeps V8's allocation-site pretenuring, as in ssepush
// (src/v8-flags.ts), so the floor always runs with the same V8 flags as the ssepush it is
// compared with.
import { createServer } from 'node:http';
import { setFlagsFromString } from 'node:v8';

if (process.env.SSEPUSH_PRETENURING !== '1') setFlagsFromString('--no-allocation-site-pretenuring');

const SSE_HEADERS = [
  'Content-Type',
  'text/event-stream; charset=utf-8',
  'Cache-Control',
  'no-cache, no-transform',
  'X-Accel-Buffering',
  'no',
  'Connection',
  'keep-alive',
];

/** uid → the stream's socket (one stream per uid in the benchmark; the newest wins). */
const streams = new Map();
let seq = 0;

/** `text` as one HTTP/1.1 chunk. */
const chunk = (text) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

function json(res, body) {
  res.writeHead(200, [
    'Content-Type',
    'application/json; charset=utf-8',
    'Content-Length',
    String(Buffer.byteLength(body)),
  ]);
  res.end(body);
}

function subscribe(req, res, query) {
  const uid = new URLSearchParams(query).get('uid') ?? '';
  req.socket.setNoDelay(true);
  req.socket.setTimeout(0);
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
  const socket = res.socket;
  socket.write(chunk(`id:${seq}\n\n`));
  streams.set(uid, socket);
  res.on('close', () => {
    if (streams.get(uid) === socket) streams.delete(uid);
  });
}

/** Delivers one message; returns its answer. */
function deliver(m) {
  const id = String(++seq);
  const frame = chunk(`id:${id}\ndata:${JSON.stringify(m.data)}\n\n`);
  if (m.to === undefined) {
    for (const s of streams.values()) s.write(frame);
    return { id, online: streams.size, delivered: streams.size };
  }
  const s = streams.get(String(m.to));
  if (s) s.write(frame);
  const n = s ? 1 : 0;
  return { id, online: n, delivered: n };
}

function push(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    json(res, JSON.stringify(Array.isArray(body) ? body.map(deliver) : deliver(body)));
  });
}

const server = createServer((req, res) => {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (req.method === 'GET' && path === '/events') subscribe(req, res, q < 0 ? '' : url.slice(q + 1));
  else if (req.method === 'POST' && path === '/push') push(req, res);
  else if (path === '/healthz') json(res, '{"ok":true}');
  else if (path === '/count') json(res, String(streams.size));
  else if (path === '/heap') json(res, String(process.memoryUsage().heapUsed));
  else res.writeHead(404).end();
});
// ssepush's settings (src/server.ts).
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.requestTimeout = 60_000;
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
