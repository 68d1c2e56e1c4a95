/**
 * Transcript normalisation shared by the recogniser, the scorer, the LM builder and the server: every transcript
 * that is stored, compared or trained on goes through `normalizeTranscript` first, so "Cold-hearted, isn't it?"
 * and "cold hearted isn't it" are the same text everywhere.
 */
import { ValidationError } from '../../core/errors.ts';

const PUNCTUATION = /[,.!?;:"()[\]{}\u201c\u201d\u2026]/g;
const DASHES = /[-\u2010-\u2015\u2212/]/g;
const APOSTROPHES = /[\u2018\u2019\u02bc`]/g;

/**
 * Lower case, punctuation (`,.!?;:"()[]`) removed, dashes and slashes between words turned into spaces, accents
 * dropped (café → cafe), whitespace collapsed; apostrophes are kept inside words (don't) and dropped at word edges.
 * Throws ValidationError (code `invalid_transcript`, details `{characters}`) when anything outside `[a-z' ]`
 * remains, e.g. digits: the recogniser's dictionary spells numbers as words.
 */
export function normalizeTranscript(s: string): string {
  const text = cleanTranscript(s);
  const bad = [...new Set(text.replace(/[a-z' ]/g, ''))];
  if (bad.length > 0) {
    const digits = bad.some((c) => /\d/.test(c));
    throw new ValidationError(
      `The transcript contains characters the recogniser cannot use: ${bad.map((c) => JSON.stringify(c)).join(', ')}.` +
        (digits ? ' Write numbers as words ("twenty five", not "25").' : ''),
      { characters: bad },
      'invalid_transcript',
    );
  }
  return text;
}

/**
 * The same cleaning as `normalizeTranscript` without the character check, for text that is only compared, never
 * stored or trained on: recogniser output can hold cmudict's odd entries ("m1", "c3"), and scoring must not throw.
 */
export function cleanTranscript(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(APOSTROPHES, "'")
    .replace(PUNCTUATION, ' ')
    .replace(DASHES, ' ')
    .split(/\s+/)
    .map((w) => w.replace(/^'+|'+$/g, ''))
    .filter((w) => w !== '')
    .join(' ');
}

/** The words of a transcript after `normalizeTranscript` (an empty transcript has none). */
export function tokens(s: string): string[] {
  const text = normalizeTranscript(s);
  return text === '' ? [] : text.split(' ');
}
