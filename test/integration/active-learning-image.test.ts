import { afterAll, beforeAll, describe, it } from 'vitest';
import { mulberry32 } from '../../scripts/lib/sampling.ts';
import { startTestServer, type TestServer } from '../helpers.ts';
import { expectDefaultBeatsRandom, type OracleExample } from '../oracle-loop.ts';

/**
 * The image version of test/integration/active-learning.test.ts: the same oracle loop through the HTTP API on
 * small generated gray images. Each class has a few looks (random 12x12 patterns, drawn with pixel noise): one
 * common look fills most of the pool with near-duplicates, the rarer looks are spread thin. A model knows a
 * look only from labels of it, and the gold set weighs every look alike. Random labels are mostly spent on the
 * common looks; the default queue spreads its labels over the regions no label covers yet and then asks about
 * what the model is unsure of.
 */
const SEED = Number(process.env.FURROW_AL_TEST_SEED ?? 1);
const ROUNDS = [24, 48, 72];
const POOL = 600;
const GOLD = 240;
const SIZE = 12;
const LABELS = ['north', 'east', 'south', 'west', 'up', 'down'];
/** Looks per class: the common one first. */
const LOOKS = 4;
/** Share of the pool showing a class's common look. */
const COMMON_SHARE = 0.75;

/** The looks of every class: random on/off patterns, fixed for the task (pool and gold share them). */
function makeLooks(): Uint8Array[][] {
  const rnd = mulberry32(9090);
  return LABELS.map(() => Array.from({ length: LOOKS }, () => Uint8Array.from({ length: SIZE * SIZE }, () => (rnd() < 0.35 ? 220 : 30))));
}
const LOOK_PIXELS = makeLooks();

/** `n` images; a `common` share of them show the common look of their class, the rest one of its rarer looks. */
function makeData(n: number, seed: number, common: number): OracleExample[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const c = Math.floor(rnd() * LABELS.length);
    const look = rnd() < common ? 0 : 1 + Math.floor(rnd() * (LOOKS - 1));
    const pixels = Array.from(LOOK_PIXELS[c][look], (v) => Math.max(0, Math.min(255, Math.round(v + (rnd() - 0.5) * 80))));
    return { data: { pixels, width: SIZE, height: SIZE }, label: LABELS[c] };
  });
}

describe('active learning beats random sampling on images (seeded, small)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  it('the default strategy ends more accurate than random labels with the same model and budget', async () => {
    const task = {
      modality: 'image' as const,
      labels: LABELS,
      seed: SEED,
      settings: { imageWidth: SIZE, imageHeight: SIZE, channels: 1 },
      pool: makeData(POOL, SEED * 1000 + 1, COMMON_SHARE),
      // The gold set: every look of a class alike.
      gold: makeData(GOLD, SEED * 1000 + 2, 1 / LOOKS),
      rounds: ROUNDS,
    };
    await expectDefaultBeatsRandom(s, 'active-learning-image', task);
  }, 900_000);
});
