import { randomBytes } from 'node:crypto';

/**
 * Event ids are `<epoch>-<seq>`: the epoch names one unbroken history (it changes when history
 * is lost: a restart of an in-memory server, a wiped Redis), the sequence orders every message
 * of one deployment. Clients treat ids as opaque; only the server parses them, once, where an id
 * enters (a request, a backend reply), and carries the parsed value from there.
 */
export interface Position {
  readonly epoch: string;
  readonly seq: number;
}

/** A position together with the id it is written as, for code that both compares and sends it. */
export interface Mark extends Position {
  readonly id: string;
}

const ID_RE = /^([A-Za-z0-9]{1,32})-(0|[1-9][0-9]{0,15})$/;

/** A fresh random epoch: 12 base-36 characters (about 62 bits). */
export function newEpoch(): string {
  const n = randomBytes(8).readBigUInt64BE();
  return n.toString(36).padStart(13, '0').slice(-12);
}

export function formatId(epoch: string, seq: number): string {
  return `${epoch}-${seq}`;
}

/** Parses an id; `undefined` for anything that is not one of ours (never throws). */
export function parseId(id: unknown): Position | undefined {
  if (typeof id !== 'string' || id.length > 64) return undefined;
  const m = ID_RE.exec(id);
  if (!m) return undefined;
  const seq = Number(m[2]);
  if (!Number.isSafeInteger(seq)) return undefined;
  return { epoch: m[1]!, seq };
}

/**
 * The position a backend issued as `id`, parsed once where it enters the hub. Backends issue only
 * valid ids; anything else is epoch `''` (no history), seq 0.
 */
export function markOf(id: string): Mark {
  const p = parseId(id);
  return { id, epoch: p?.epoch ?? '', seq: p?.seq ?? 0 };
}

/** A position with its id formatted (once). */
export function markAt(epoch: string, seq: number): Mark {
  return { id: formatId(epoch, seq), epoch, seq };
}

/** Whether `a` and `b` are in one history (same epoch) and `a` is not past `b`. */
export function atOrBefore(a: Position, b: Position): boolean {
  return a.epoch === b.epoch && a.seq <= b.seq;
}
