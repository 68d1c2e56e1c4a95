import { describe, expect, it } from 'vitest';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { MAX_ERROR_TEXT, describeError } from './errors.ts';

describe('describeError', () => {
  it("shows a failed query by the database's message and the start of its SQL, never the bound values", () => {
    const cause = Object.assign(new Error('bind message has 110000 parameter formats but 0 parameters'), { code: '08P01' });
    const err = new DrizzleQueryError(
      `insert into "items" ("id", "data") values ${'($1, $2), '.repeat(5_000)}`,
      ['secret-ish user data', 'x'.repeat(100_000)],
      cause,
    );
    const text = describeError(err);
    expect(text).toMatch(/^bind message has 110000 parameter formats but 0 parameters \(query: insert into "items"/);
    expect(text).not.toContain('secret-ish user data');
    expect(text.length).toBeLessThan(400);
    const withStack = describeError(err, true);
    expect(withStack).not.toContain('secret-ish user data');
    expect(
      withStack
        .split('\n')
        .slice(1)
        .every((l) => /^\s+at /.test(l)),
    ).toBe(true);
  });
  it('cuts any other long message', () => {
    const text = describeError(new Error('y'.repeat(10_000)));
    expect(text.length).toBeLessThan(MAX_ERROR_TEXT + 40);
    expect(text).toMatch(/… \(10000 characters\)$/);
    expect(describeError('plain')).toBe('plain');
  });
});
