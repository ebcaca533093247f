/** Validation of the names that reach SSE fields and history keys. Pure, shared by push and auth. */

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const EVENT_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Longest uid or group name, in characters. */
export const MAX_NAME_LENGTH = 128;

/**
 * A uid or group as the contract accepts it: a string of 1–128 characters without control
 * characters, or a non-negative safe integer meaning its decimal string. `undefined` otherwise.
 * Strings must be well-formed UTF-16: a lone surrogate has no UTF-8 form, so a byte-keyed store
 * (Redis, any client library) would read `"\ud83d"` as `"\ufffd"` and mix two users' streams.
 */
export function normalizeName(v: unknown): string | undefined {
  if (typeof v === 'number') {
    return Number.isSafeInteger(v) && v >= 0 ? String(v) : undefined;
  }
  if (typeof v !== 'string' || v.length < 1 || v.length > MAX_NAME_LENGTH) return undefined;
  return CONTROL.test(v) || LONE_SURROGATE.test(v) ? undefined : v;
}

/** True when `s` holds no lone surrogate, i.e. it has a UTF-8 form. */
export function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/**
 * The bytes naming `s` in a byte-keyed store: UTF-8 for well-formed strings (returned as the
 * string itself), WTF-8 otherwise (a lone surrogate as its own 3-byte sequence, where UTF-8
 * would put U+FFFD's). Injective over all JS strings, so no two names ever share a key.
 */
export function keyBytes(s: string): string | Buffer {
  if (wellFormed(s)) return s;
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      i++;
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Buffer.from(out);
}

/** Event names: 1–64 of `[A-Za-z0-9_.:-]`; `reset` is reserved for the server. */
export function validEventName(v: unknown): v is string {
  return typeof v === 'string' && EVENT_RE.test(v) && v !== 'reset';
}
