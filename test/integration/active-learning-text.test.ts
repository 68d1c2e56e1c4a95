import { afterAll, beforeAll, describe, it } from 'vitest';
import { mulberry32 } from '../../scripts/lib/sampling.ts';
import { startTestServer, type TestServer } from '../helpers.ts';
import { expectDefaultBeatsRandom, type OracleExample } from '../oracle-loop.ts';

/**
 * The text version of test/integration/active-learning.test.ts: the same oracle loop through the HTTP API on a
 * synthetic many-class task where a few informative words decide the class. Most of the pool repeats a few easy
 * sentences (one common word per class, as a scraped pool full of near-duplicates); the rest carry one of the
 * class's rarer words among filler. Random labels are mostly spent on the repeats; the default queue, once a
 * model exists, asks about the sentences whose deciding word no label has shown yet. The gold set weighs every
 * word of a class alike, so what counts is how many of them the labels taught.
 */
const SEED = Number(process.env.FURROW_AL_TEST_SEED ?? 1);
const ROUNDS = [24, 48, 72];
const POOL = 600;
const GOLD = 240;
/** Share of the pool that repeats the easy sentences. */
const EASY_SHARE = 0.75;

/** Per class: the common word of its easy sentences first, then its rarer words. */
const WORDS: Record<string, string[]> = {
  music: ['violin', 'cello', 'oboe', 'harp', 'tuba'],
  fish: ['salmon', 'trout', 'carp', 'perch', 'pike'],
  rock: ['granite', 'basalt', 'marble', 'slate', 'shale'],
  tree: ['oak', 'birch', 'maple', 'willow', 'cedar'],
  bird: ['sparrow', 'robin', 'heron', 'falcon', 'wren'],
  tool: ['hammer', 'chisel', 'wrench', 'pliers', 'saw'],
  food: ['bread', 'cheese', 'lentil', 'noodle', 'olive'],
  cloth: ['shirt', 'scarf', 'jacket', 'glove', 'sock'],
};
const LABELS = Object.keys(WORDS);
// Few filler words, each in a large share of the sentences: little chance of a spurious clue on a few labels.
const FILLER = 'a the some this one big small old new near far seen found here there often'.split(' ');

function sentence(rnd: () => number, word: string, fillers: number): string {
  const words = Array.from({ length: fillers }, () => FILLER[Math.floor(rnd() * FILLER.length)]);
  words.splice(Math.floor(rnd() * (fillers + 1)), 0, word);
  return words.join(' ');
}

/** `n` sentences; an `easy` share of them near-copies of two fixed sentences per class. */
function makeData(n: number, seed: number, easy: number): OracleExample[] {
  const rnd = mulberry32(seed);
  // Two easy sentences per class, fixed by the seed of the task (not of the split): pool and gold share them.
  const fixed = mulberry32(4242);
  const easySentences = LABELS.map((l) => [0, 1].map(() => sentence(fixed, WORDS[l][0], 4).split(' ')));
  return Array.from({ length: n }, () => {
    const c = Math.floor(rnd() * LABELS.length);
    const label = LABELS[c];
    if (rnd() < easy) {
      // A near-duplicate: one filler word of the sentence swapped.
      const words = [...easySentences[c][Math.floor(rnd() * 2)]];
      const i = Math.floor(rnd() * words.length);
      if (words[i] !== WORDS[label][0]) words[i] = FILLER[Math.floor(rnd() * FILLER.length)];
      return { data: { text: words.join(' ') }, label };
    }
    const word = WORDS[label][1 + Math.floor(rnd() * (WORDS[label].length - 1))];
    return { data: { text: sentence(rnd, word, 2) }, label };
  });
}

describe('active learning beats random sampling on text (seeded, small)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  it('the default strategy ends more accurate than random labels with the same model and budget', async () => {
    const task = {
      modality: 'text' as const,
      labels: LABELS,
      seed: SEED,
      pool: makeData(POOL, SEED * 1000 + 1, EASY_SHARE),
      // The gold set: every word of a class alike (one in six sentences is an easy one).
      gold: makeData(GOLD, SEED * 1000 + 2, 1 / 6),
      rounds: ROUNDS,
    };
    await expectDefaultBeatsRandom(s, 'active-learning-text', task);
  }, 900_000);
});
