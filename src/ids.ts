import { randomBytes } from 'node:crypto';

/**
 * Event ids are `<epoch>-<seq>`: the epoch names one unbroken history (it changes when history
 * is lost: a restart of an in-memory server, a wiped Redis), the sequence orders every message
 * of one deployment. Clients treat ids as opaque; only the server parses them.
 */
export interface Position {
  readonly epoch: string;
  readonly seq: number;
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
