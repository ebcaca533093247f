import { EventBuffer } from 'better-sse';
import { formatId, type Mark, type Position } from './ids.js';

/** Where a message goes: uids, groups, or (both empty) everyone online. */
export interface Targets {
  readonly to: readonly string[];
  readonly groups: readonly string[];
  /** Uids whose connections never get the message, live or on replay (push `exclude`). */
  readonly exclude?: readonly string[];
}

const NONE: readonly string[] = Object.freeze([]);

/** Whether `t` leaves out `uid` (its `exclude` names it). */
export function excludes(t: Targets, uid: string): boolean {
  const x = t.exclude;
  return x !== undefined && x.length > 0 && x.includes(uid);
}

/** The messages of a replay that `uid` may see: those whose `exclude` does not name it. */
export function visibleTo<M extends Targets>(messages: M[], uid: string | undefined): M[] {
  if (uid === undefined || !messages.some((m) => m.exclude !== undefined && m.exclude.length > 0))
    return messages;
  return messages.filter((m) => !excludes(m, uid));
}

/** A message as the publisher gives it, already validated. */
export interface PublishInput extends Targets {
  readonly event: string;
  /** The message data as one line of JSON text. */
  readonly data: string;
}

/**
 * A stored, id-carrying message. Immutable once created; shared by history and every connection.
 * It is at a position (`epoch`, `seq`) and carries the id that position is written as.
 */
export interface Message extends PublishInput, Mark {
  /** Milliseconds since the Unix epoch, assigned by the server. */
  readonly time: number;
  /** The SSE bytes of this message (see `sseFrame`). */
  readonly frame: string;
}

export const BROADCAST_STREAM = '*';
export const uidStream = (uid: string) => `u:${uid}`;
export const groupStream = (group: string) => `g:${group}`;

/** The history streams a message is appended to. */
export function streamsOfMessage(t: Targets): string[] {
  if (t.to.length === 0 && t.groups.length === 0) return [BROADCAST_STREAM];
  return [...t.to.map(uidStream), ...t.groups.map(groupStream)];
}

/** The history streams a connection reads: its uid, its groups, and broadcasts. */
export function streamsOfSubscriber(uid: string, groups: readonly string[]): string[] {
  return [uidStream(uid), ...groups.map(groupStream), BROADCAST_STREAM];
}

// The frame builder is better-sse's serializer; our identity serializer keeps `data` as the
// JSON text we already validated, so each message is serialized exactly once.
const frameBuffer = new EventBuffer({ serializer: (d) => String(d) });

/**
 * The SSE bytes of a message, built once and written to every connection. Ids and event names
 * are validated against `[A-Za-z0-9._:-]` before they get here, and `data` is single-line JSON,
 * so no field can be injected.
 */
export function sseFrame(id: string, event: string, data: string): string {
  const s = frameBuffer.id(id).event(event).data(data).dispatch().read();
  frameBuffer.clear();
  return s;
}

/** Builds the stored message at `at`; its id is formatted and its SSE frame serialized here, once. */
export function createMessage(input: PublishInput, at: Position, time: number): Message;
/** The same from an id already formatted (tests build messages from literal ids). */
export function createMessage(input: PublishInput, id: string, seq: number, time: number): Message;
export function createMessage(input: PublishInput, at: Position | string, a: number, b?: number): Message {
  const literal = typeof at === 'string';
  const seq = literal ? a : at.seq;
  const epoch = literal ? at.slice(0, at.lastIndexOf('-')) : at.epoch;
  const id = literal ? at : formatId(epoch, seq);
  return {
    to: input.to,
    groups: input.groups,
    // Always present (a shared empty list when absent): one object shape for every message.
    exclude: input.exclude ?? NONE,
    event: input.event,
    data: input.data,
    id,
    epoch,
    seq,
    time: literal ? (b ?? 0) : a,
    frame: sseFrame(id, input.event, input.data),
  };
}

/** The JSON text of a message as long-poll answers carry it (data is already JSON). */
export function pollJson(m: Message): string {
  return `{"id":${JSON.stringify(m.id)},"event":${JSON.stringify(m.event)},"data":${m.data},"time":${m.time}}`;
}

/** Approximate retained bytes of a message in history (strings are UTF-16 in V8, plus the frame). */
export function messageBytes(m: Message): number {
  const names = m.to.length + m.groups.length + (m.exclude?.length ?? 0);
  return 2 * (m.data.length * 2 + m.event.length + m.id.length) + 64 + 16 * names;
}
