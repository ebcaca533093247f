import { describe, expect, it } from 'vitest';
import { formatId, newEpoch, parseId } from '../../src/ids.js';

describe('event ids', () => {
  it('round-trips epoch and seq', () => {
    const e = newEpoch();
    expect(parseId(formatId(e, 42))).toEqual({ epoch: e, seq: 42 });
    expect(parseId(formatId(e, 0))).toEqual({ epoch: e, seq: 0 });
  });

  it('makes ids of at most 64 characters from the allowed alphabet', () => {
    const id = formatId(newEpoch(), Number.MAX_SAFE_INTEGER);
    expect(id.length).toBeLessThanOrEqual(64);
    expect(id).toMatch(/^[A-Za-z0-9._:-]+$/);
  });

  it('gives a different epoch each time', () => {
    const seen = new Set(Array.from({ length: 100 }, newEpoch));
    expect(seen.size).toBe(100);
  });

  it.each([
    '',
    'abc',
    '-1',
    'e-',
    'e-01',
    'e--1',
    'e-1.5',
    'e-99999999999999999',
    `${'a'.repeat(33)}-1`,
    'e-1\nevent: x',
    'e 1',
    42,
    null,
    undefined,
  ])('rejects %j without throwing', (bad) => {
    expect(parseId(bad)).toBeUndefined();
  });
});
