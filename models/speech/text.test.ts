import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.ts';
import { cleanTranscript, normalizeTranscript, tokens } from './text.ts';

describe('normalizeTranscript', () => {
  it('lower-cases, strips punctuation, splits dashed words and collapses whitespace', () => {
    expect(normalizeTranscript('  Cold-hearted,  isn\'t it?\n"Yes" (quite) [sic]; well: no! ')).toBe("cold hearted isn't it yes quite sic well no");
    expect(normalizeTranscript('Twenty\u2014five crates \u2013 now')).toBe('twenty five crates now');
  });

  it('keeps apostrophes inside words only, and folds typographic ones and accents', () => {
    expect(normalizeTranscript("'Tis the farmers' market, don\u2019t go")).toBe("tis the farmers market don't go");
    expect(normalizeTranscript('Café Crème')).toBe('cafe creme');
  });

  it('rejects digits with a hint to write numbers as words, listing the characters', () => {
    try {
      normalizeTranscript('add 12 crates @ 3');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      const e = err as ValidationError;
      expect(e.code).toBe('invalid_transcript');
      expect(e.message).toMatch(/numbers as words/);
      expect((e.details as { characters: string[] }).characters.sort()).toEqual(['1', '2', '3', '@'].sort());
    }
    expect(() => normalizeTranscript('price in €')).toThrow(/"€"/);
    expect(() => normalizeTranscript('price in €')).not.toThrow(/numbers as words/);
  });

  it('cleanTranscript cleans the same way but lets other characters through', () => {
    expect(cleanTranscript('The M1, Able-Bodied!')).toBe('the m1 able bodied');
  });

  it('tokens splits the normalised text; an empty transcript has no tokens', () => {
    expect(tokens('Hello, World')).toEqual(['hello', 'world']);
    expect(tokens(' ... ')).toEqual([]);
  });
});
