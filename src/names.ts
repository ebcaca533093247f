/** Validation of the names that reach SSE fields and history keys. Pure, shared by push and auth. */

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const EVENT_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Longest uid or group name, in characters. */
export const MAX_NAME_LENGTH = 128;

/**
 * A uid or group as the contract accepts it: a string of 1–128 characters without control
 * characters, or a non-negative safe integer meaning its decimal string. `undefined` otherwise.
 */
export function normalizeName(v: unknown): string | undefined {
  if (typeof v === 'number') {
    return Number.isSafeInteger(v) && v >= 0 ? String(v) : undefined;
  }
  if (typeof v !== 'string' || v.length < 1 || v.length > MAX_NAME_LENGTH) return undefined;
  return CONTROL.test(v) ? undefined : v;
}

/** Event names: 1–64 of `[A-Za-z0-9_.:-]`; `reset` is reserved for the server. */
export function validEventName(v: unknown): v is string {
  return typeof v === 'string' && EVENT_RE.test(v) && v !== 'reset';
}
