import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { badRequest, type SsePushError, tooLarge, unsupportedMedia } from '../errors.js';

/** A request body read and parsed once: JSON (`application/json`, `+json`) or a form. */
export interface Body {
  readonly type: 'json' | 'form';
  readonly value: unknown;
}

/** Most fields in one form body (web-msg-sender sends three or four). */
export const MAX_FORM_PARAMETERS = 100;

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}$`);
const PARAMETER = new RegExp(`^(${TOKEN})=(${TOKEN}|"(?:[^"\\\\]|\\\\.)*")$`);

interface ContentType {
  readonly type: string;
  readonly charset: string | undefined;
}

/** The last header parsed and its result: publishers send the same Content-Type every time. */
let lastHeader: string | undefined;
let lastType: ContentType | undefined;

/** `type/subtype` and `charset` of a Content-Type, or undefined when the header is malformed. */
function contentType(header: string): ContentType | undefined {
  if (header === lastHeader) return lastType;
  const t = parseContentType(header);
  lastHeader = header;
  lastType = t;
  return t;
}

function parseContentType(header: string): ContentType | undefined {
  const parts = header.split(';');
  const type = parts[0]!.trim().toLowerCase();
  if (!MEDIA_TYPE.test(type)) return undefined;
  let charset: string | undefined;
  for (const raw of parts.slice(1)) {
    const m = PARAMETER.exec(raw.trim());
    if (!m) return undefined;
    if (m[1]!.toLowerCase() === 'charset') charset = m[2]!.replace(/^"|"$/g, '').toLowerCase();
  }
  return Object.freeze({ type, charset });
}

const DECODABLE = new Set(['utf-8', 'utf-16', 'utf-16le', 'utf-16be', 'iso-8859-1']);

/** One decoder per charset: a call without `stream` starts from a clean state every time. */
const decoders = new Map<string, TextDecoder>();

/** Request body text as body-parser decoded it: the declared charset, a leading BOM dropped. */
function decode(bytes: Buffer, charset: string): string {
  if (charset === 'iso-8859-1') return bytes.toString('latin1');
  let d = decoders.get(charset);
  if (!d) {
    d = new TextDecoder(charset);
    decoders.set(charset, d);
  }
  return d.decode(bytes);
}

const badJson = () => badRequest('request body is not valid JSON', 'bad_json');

/** body-parser's strict JSON: empty is `{}`, anything but an object or an array is invalid. */
function parseJson(text: string): unknown {
  if (text.length === 0) return {};
  let i = 0;
  let c = text.charCodeAt(0);
  // Skip JSON whitespace (space, tab, LF, CR) to the first significant character.
  while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) c = text.charCodeAt(++i);
  if (c !== 0x7b && c !== 0x5b) throw badJson();
  try {
    return JSON.parse(text);
  } catch {
    throw badJson();
  }
}

const latin1Unescape = (s: string) =>
  s.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));

/** A form as body-parser's `extended: false` reads it: flat fields, repeated ones as arrays. */
function parseForm(text: string, charset: string): unknown {
  if (text.length === 0) return {};
  let count = 0;
  for (let i = -1; ; ) {
    if (++count > MAX_FORM_PARAMETERS) throw tooLarge('too many form parameters', 'bad_request');
    i = text.indexOf('&', i + 1);
    if (i < 0) break;
  }
  const fields = parseQuery(
    text,
    '&',
    '=',
    charset === 'iso-8859-1' ? { decodeURIComponent: latin1Unescape, maxKeys: 0 } : { maxKeys: 0 },
  );
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (k !== '') out[k] = v;
  return out;
}

/** The decompressor the body goes through (none for `identity`), or a 415 as body-parser gave. */
function decompressor(req: IncomingMessage): Transform | undefined {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding === 'identity') return undefined;
  if (encoding === 'gzip') return createGunzip();
  if (encoding === 'deflate') return createInflate();
  if (encoding === 'br') return createBrotliDecompress();
  throw unsupportedMedia(`unsupported content encoding "${encoding}"`);
}

const bodyTooLarge = () => tooLarge('request body is larger than MAX_BODY_BYTES');

/**
 * Reads `POST` bodies, the one reader of the server: Content-Length or chunked, gzip, deflate or
 * br, at most `limit` bytes after decompression, in the charset the header declares. Answers as
 * body-parser did: 415 for other media types, charsets or encodings; 413 past the limit; 400 for
 * a body that does not decompress or parse. The request is read to its end before an error is
 * given, so the answer reaches a client that is still sending. Errors found in the headers are
 * thrown; the rest are passed to `done`, which is called once, straight from the request's `end`
 * (not from a promise job: a push published there has its deliveries written before its answer,
 * as the hub flushes corked streams at the end of the tick).
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  done: (err: unknown, body?: Body) => void,
): void {
  const h = req.headers;
  const ct = h['content-type'] === undefined ? undefined : contentType(h['content-type']);
  const hasBody = h['transfer-encoding'] !== undefined || h['content-length'] !== undefined;
  const type =
    !ct || !hasBody
      ? undefined
      : ct.type === 'application/x-www-form-urlencoded'
        ? 'form'
        : ct.type === 'application/json' || /^application\/[^/]*\+json$/.test(ct.type)
          ? 'json'
          : undefined;
  if (!type || !ct) throw unsupportedMedia('send application/json or application/x-www-form-urlencoded');
  const charset = ct.charset ?? 'utf-8';
  const allowed =
    type === 'json' ? charset.startsWith('utf-') : charset === 'utf-8' || charset === 'iso-8859-1';
  if (!allowed || !DECODABLE.has(charset)) {
    throw unsupportedMedia(`unsupported charset "${charset.toUpperCase()}"`);
  }
  const inflate = decompressor(req);
  const stream: Readable = inflate ?? req;
  if (inflate) req.pipe(inflate);
  const chunks: Buffer[] = [];
  let received = 0;
  let failure: SsePushError | undefined =
    !inflate && Number(h['content-length']) > limit ? bodyTooLarge() : undefined;
  let reqEnded = false;
  let settled = false;
  const settle = () => {
    if (settled) return;
    settled = true;
    if (failure) return done(failure);
    let body: Body;
    try {
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      const text = decode(bytes, charset);
      body = { type, value: type === 'json' ? parseJson(text) : parseForm(text, charset) };
    } catch (err) {
      return done(err);
    }
    done(undefined, body);
  };
  const fail = (e: SsePushError) => {
    failure ??= e;
    if (inflate) {
      req.unpipe(inflate);
      inflate.destroy();
      req.resume();
    }
    if (reqEnded) settle();
  };
  stream.on('data', (c: Buffer) => {
    if (failure) return;
    received += c.length;
    if (received > limit) fail(bodyTooLarge());
    else chunks.push(c);
  });
  stream.on('error', () => fail(badRequest('request body could not be decompressed')));
  if (inflate) inflate.on('end', settle);
  req.on('end', () => {
    reqEnded = true;
    // A decompressed body is complete when its own stream ends, right after this.
    if (!inflate || failure) settle();
  });
  req.on('error', () => fail(badRequest('request aborted')));
  req.on('close', () => {
    if (req.complete) return;
    failure ??= badRequest('request aborted');
    settle();
  });
}
