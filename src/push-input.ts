import { z } from 'zod';
import { badRequest, tooLarge } from './errors.js';
import type { PublishInput } from './message.js';
import { normalizeName, validEventName } from './names.js';

/** Most items in one batch push. */
export const MAX_BATCH = 1000;
/** Most uids or groups one message may name. */
export const MAX_TARGETS = 1000;

const DATA_REQUIRED = 'data is required: the message to deliver, any JSON value such as {"text":"hi"}';
const FIELDS = 'a push has to, group, event and data';

const NAME_RULE =
  'a string of 1-128 characters without control characters or lone surrogates, or a non-negative integer';

/** A uid/group or a non-empty array of 1-1000 of them, normalized to a list of strings. */
export const names = z.unknown().transform((v, ctx): string[] => {
  const list = Array.isArray(v) ? v : [v];
  if (Array.isArray(v) && (v.length < 1 || v.length > MAX_TARGETS)) {
    ctx.addIssue({ code: 'custom', message: `an array must hold 1 to ${MAX_TARGETS} names` });
    return z.NEVER;
  }
  const out: string[] = [];
  for (const item of list) {
    const n = normalizeName(item);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `each name must be ${NAME_RULE}` });
      return z.NEVER;
    }
    out.push(n);
  }
  return out;
});

const jsonItem = z
  .object({
    to: names.optional(),
    group: names.optional(),
    exclude: names.optional(),
    event: z.string().refine(validEventName, 'must be 1-64 of [A-Za-z0-9_.:-] and not "reset"').optional(),
    data: z.unknown().optional(),
    type: z.literal('publish').optional(),
  })
  .strict()
  .refine((o) => o.data !== undefined, { message: DATA_REQUIRED, path: ['data'] });

/** Form fields arrive as strings (or arrays of strings when repeated); `content` aliases `data`. */
const formItem = z
  .object({
    to: z.union([z.string(), z.array(z.string())]).optional(),
    group: z.union([z.string(), z.array(z.string())]).optional(),
    exclude: z.union([z.string(), z.array(z.string())]).optional(),
    event: z.string().optional(),
    data: z.string().optional(),
    content: z.string().optional(),
    // web-msg-sender's only message type; anything else is another protocol's request.
    type: z.literal('publish').optional(),
  })
  .strict();

export interface ParsedPush {
  readonly batch: boolean;
  readonly inputs: PublishInput[];
}

/** One readable sentence for the first issue, naming the field; never the validator's wording. */
function describe(err: z.ZodError, prefix: string): string {
  const issue = err.issues[0];
  if (!issue) return `${prefix}body: invalid`;
  const path = issue.path.length ? issue.path.join('.') : 'body';
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    message = `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (${FIELDS})`;
  } else if (issue.code === 'invalid_type' && issue.path.length === 0) {
    message = 'must be a JSON object, or an array of them for a batch';
  }
  // "data: data is required" says it twice.
  return message.startsWith(`${path} `) ? `${prefix}${message}` : `${prefix}${path}: ${message}`;
}

/**
 * curl's `-d '{"to":…}'` without `-H 'Content-Type: application/json'` sends the JSON as a form
 * field name: say so instead of calling it an unknown field.
 */
function jsonSentAsForm(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  return Object.keys(body).some((k) => /^\s*[[{]/.test(k));
}

/** Serializes message data; JSON.parse takes any depth, JSON.stringify runs out of stack. */
function serialize(data: unknown, where: string): string {
  try {
    return JSON.stringify(data);
  } catch (err) {
    if (err instanceof RangeError) throw badRequest(`${where}data is nested too deeply`);
    throw err;
  }
}

function toInput(item: z.infer<typeof jsonItem>, maxBytes: number, where: string): PublishInput {
  const data = serialize(item.data, where);
  if (Buffer.byteLength(data) > maxBytes) {
    throw tooLarge(`${where}data is larger than MAX_MESSAGE_BYTES (${maxBytes} bytes as JSON)`);
  }
  return {
    to: item.to ? [...new Set(item.to)] : [],
    groups: item.group ? [...new Set(item.group)] : [],
    ...(item.exclude ? { exclude: [...new Set(item.exclude)] } : {}),
    event: item.event ?? 'message',
    data,
  };
}

/** Validates a JSON push body (one object, or a batch array validated whole). */
export function parseJsonPush(body: unknown, maxMessageBytes: number): ParsedPush {
  if (Array.isArray(body)) {
    if (body.length < 1 || body.length > MAX_BATCH) {
      throw badRequest(`a batch holds 1 to ${MAX_BATCH} messages, got ${body.length}`);
    }
    const inputs = body.map((raw, i) => {
      const r = jsonItem.safeParse(raw);
      if (!r.success) throw badRequest(describe(r.error, `item ${i}: `));
      return toInput(r.data, maxMessageBytes, `item ${i}: `);
    });
    return { batch: true, inputs };
  }
  const r = jsonItem.safeParse(body);
  if (!r.success) throw badRequest(describe(r.error, ''));
  return { batch: false, inputs: [toInput(r.data, maxMessageBytes, '')] };
}

/** Validates a form push (web-msg-sender's `type=publish&to=…&content=…`). */
export function parseFormPush(body: unknown, maxMessageBytes: number): ParsedPush {
  if (jsonSentAsForm(body)) {
    throw badRequest(
      'the body is JSON but was sent as a form (application/x-www-form-urlencoded): send Content-Type: application/json',
    );
  }
  const r = formItem.safeParse(body ?? {});
  if (!r.success) throw badRequest(describe(r.error, ''));
  const f = r.data;
  const list = (v: string | string[] | undefined) => {
    const arr = (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((s) => s !== '');
    return arr.length === 0 ? undefined : arr;
  };
  const data = f.data ?? f.content;
  if (data === undefined) throw badRequest('data is required: a "data" (or "content") field');
  const item = jsonItem.safeParse({
    to: list(f.to),
    group: list(f.group),
    exclude: list(f.exclude),
    event: f.event || undefined,
    data,
  });
  if (!item.success) throw badRequest(describe(item.error, ''));
  return { batch: false, inputs: [toInput(item.data, maxMessageBytes, '')] };
}
