import { createMessage, type Message, type PublishInput } from './message.js';

/**
 * The stored form of a message minus seq and time: a header line, then the data JSON. The header
 * names the event (`e`), uids (`o`), groups (`g`) and, only when there are any, excluded uids
 * (`x`): records written before `exclude` existed have no `x` and read as excluding no one.
 */
export function payloadOf(input: PublishInput): string {
  const h: Header = { e: input.event, o: input.to, g: input.groups };
  if (input.exclude && input.exclude.length > 0) h.x = input.exclude;
  return `${JSON.stringify(h)}\n${input.data}`;
}

interface Header {
  e: string;
  o: readonly string[];
  g: readonly string[];
  x?: readonly string[];
}

/** Parses `<seq> <timeMs> <header>\n<data>` back into a message (its SSE frame built once). */
export function parseRecord(epoch: string, rec: string): Message {
  const a = rec.indexOf(' ');
  const b = rec.indexOf(' ', a + 1);
  const nl = rec.indexOf('\n', b + 1);
  if (a < 0 || b < 0 || nl < 0) throw new Error('malformed record');
  const seq = Number(rec.slice(0, a));
  const time = Number(rec.slice(a + 1, b));
  const h = JSON.parse(rec.slice(b + 1, nl)) as Header;
  const input: PublishInput = {
    event: h.e,
    to: h.o,
    groups: h.g,
    ...(h.x ? { exclude: h.x } : {}),
    data: rec.slice(nl + 1),
  };
  return createMessage(input, { epoch, seq }, time);
}
