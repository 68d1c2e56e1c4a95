import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vader from 'vader-sentiment';
import { describe, expect, it } from 'vitest';
import { analyzeVader, normalizeValence, vaderLexicon, vaderScores } from './text-vader.ts';

/** Sentences that exercise each rule of the package: boosters, caps, negation, "but", idioms, "least", punctuation. */
const TRICKY = [
  '',
  'a',
  'The coffee is good.',
  'The coffee is GOOD, the box was not.',
  'The coffee is very good!!!',
  'The coffee is kind of good',
  'It is not bad at all',
  "I didn't love it, but the kids did.",
  'Never so good. Never this bad.',
  'Not the best, not the worst... at least it arrived.',
  'This is the least tasty tea',
  'Very least good',
  'yeah right, this is the bomb',
  'It cut the mustard :) :-( <3',
  'Why?? Why would anyone buy this???? Terrible.',
  'GREAT DEAL, CONVENIENT TOO.',
  'It was sort of ok, just enough sugar, hardly sweet.',
  '"Awful", she said. (Horrible!) great,',
  "can't, won't, shouldn't: nope; uh-uh.",
  'Tabs\tand\nnewlines  and   spaces',
];

describe('VADER port', () => {
  it('scores like the vader-sentiment package on rule-by-rule examples', () => {
    for (const text of TRICKY) expect(vaderScores(text), text).toEqual(vader.SentimentIntensityAnalyzer.polarity_scores(text));
  });

  it('scores like the package on real reviews', () => {
    const path = join(import.meta.dirname, '../fixtures/fine-foods/fine-foods.test.jsonl');
    const texts = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .slice(0, 150)
      .map((l) => (JSON.parse(l) as { text: string }).text);
    for (const text of texts) expect(vaderScores(text)).toEqual(vader.SentimentIntensityAnalyzer.polarity_scores(text));
  });

  it('returns per-token valences that add up to the compound', () => {
    const a = analyzeVader('I love this coffee but the bag was torn');
    expect(a.tokens).toEqual(['love', 'this', 'coffee', 'but', 'the', 'bag', 'was', 'torn']);
    expect(a.valences.length).toBe(a.tokens.length);
    // "but" halves what comes before it.
    expect(a.valences[0]).toBeCloseTo(0.5 * vaderLexicon().get('love')!, 10);
    const sum = a.valences.reduce((s, v) => s + v, 0);
    expect(a.sum).toBeCloseTo(sum, 10);
    expect(a.scores.compound).toBeCloseTo(normalizeValence(sum), 4);
  });

  it('reads the lexicon shipped in the package', () => {
    const lex = vaderLexicon();
    expect(lex.size).toBeGreaterThan(7000);
    expect(lex.get('great')).toBe(3.1);
    expect(lex.get('horrible')).toBeLessThan(-2);
  });
});
