import { describe, expect, it } from 'vitest';
import { parseFormPush, parseJsonPush } from '../../src/push-input.js';

const MAX = 1000;

describe('parseJsonPush', () => {
  it('normalizes targets, defaults the event and keeps data as JSON text', () => {
    expect(parseJsonPush({ to: 42, data: { a: 1 } }, MAX)).toEqual({
      batch: false,
      inputs: [{ to: ['42'], groups: [], event: 'message', data: '{"a":1}' }],
    });
    expect(
      parseJsonPush({ to: ['a', 'a', 'b'], group: 'g', event: 'x.y:z-1', data: null }, MAX).inputs[0],
    ).toEqual({
      to: ['a', 'b'],
      groups: ['g'],
      event: 'x.y:z-1',
      data: 'null',
    });
    expect(parseJsonPush({ data: 'hi' }, MAX).inputs[0]).toMatchObject({ to: [], groups: [] });
  });

  it.each([
    [{}, 'data'],
    [{ to: [], data: 1 }, 'to'],
    [{ to: -1, data: 1 }, 'to'],
    [{ to: 1.5, data: 1 }, 'to'],
    [{ to: true, data: 1 }, 'to'],
    [{ to: '', data: 1 }, 'to'],
    [{ to: 'a\nb', data: 1 }, 'to'],
    [{ to: 'x'.repeat(129), data: 1 }, 'to'],
    [{ group: [{}], data: 1 }, 'group'],
    [{ event: 'reset', data: 1 }, 'event'],
    [{ event: 'a b', data: 1 }, 'event'],
    [{ event: 'x\nid: 1', data: 1 }, 'event'],
    [{ event: 'e'.repeat(65), data: 1 }, 'event'],
    [{ too: 'a', data: 1 }, 'too'],
    ['string', 'body'],
    [null, 'body'],
  ])('refuses %j naming %s', (body, field) => {
    expect(() => parseJsonPush(body, MAX)).toThrow(
      expect.objectContaining({ kind: 'bad_input', message: expect.stringContaining(field) }),
    );
  });

  it('refuses data larger than MAX_MESSAGE_BYTES with 413', () => {
    expect(() => parseJsonPush({ data: 'x'.repeat(MAX) }, MAX)).toThrow(
      expect.objectContaining({ kind: 'too_large' }),
    );
  });

  it('validates a batch whole and names the bad index', () => {
    expect(parseJsonPush([{ data: 1 }, { to: 'a', data: 2 }], MAX).inputs).toHaveLength(2);
    expect(() => parseJsonPush([{ data: 1 }, { to: [], data: 2 }], MAX)).toThrow(
      expect.objectContaining({ kind: 'bad_input', message: expect.stringContaining('item 1') }),
    );
    expect(() => parseJsonPush([], MAX)).toThrow(expect.objectContaining({ kind: 'bad_input' }));
    expect(() =>
      parseJsonPush(
        Array.from({ length: 1001 }, () => ({ data: 1 })),
        MAX,
      ),
    ).toThrow(expect.objectContaining({ kind: 'bad_input' }));
  });
});

describe('parseFormPush', () => {
  it('reads web-msg-sender requests: empty to means broadcast, content aliases data, data stays a string', () => {
    expect(parseFormPush({ type: 'publish', to: '', content: 'hello' }, MAX).inputs[0]).toEqual({
      to: [],
      groups: [],
      event: 'message',
      data: '"hello"',
    });
    expect(parseFormPush({ to: '42', data: '{"a":1}', event: 'new_msg' }, MAX).inputs[0]).toEqual({
      to: ['42'],
      groups: [],
      event: 'new_msg',
      data: '"{\\"a\\":1}"',
    });
    expect(parseFormPush({ to: ['a', 'b'], content: 'x' }, MAX).inputs[0]!.to).toEqual(['a', 'b']);
  });

  it('refuses a form without data and unknown fields', () => {
    expect(() => parseFormPush({ to: 'a' }, MAX)).toThrow(expect.objectContaining({ kind: 'bad_input' }));
    expect(() => parseFormPush({ to: 'a', data: 'x', bogus: '1' }, MAX)).toThrow(
      expect.objectContaining({ kind: 'bad_input' }),
    );
  });
});
