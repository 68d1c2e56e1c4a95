import { afterAll, beforeAll, describe, it } from 'vitest';
import { mulberry32 } from '../../scripts/lib/sampling.ts';
import { startTestServer, type TestServer } from '../helpers.ts';
import { expectDefaultBeatsRandom } from '../oracle-loop.ts';

/**
 * The small, seeded version of `npm run bench:al`: the same oracle loop through the HTTP API, on a
 * synthetic vector task where the labels that matter lie near the class boundaries. Furrow's default
 * (margin sampling, k-means++ cold start, semi-supervised retraining) and random sampling with the same
 * model each get the same label budget; the default must end more accurate on the gold set. Both arms
 * choose their model by cross-validation at each retrain (settings.model 'auto'), which is what makes it slow.
 * The text and image versions: active-learning-text.test.ts, active-learning-image.test.ts.
 */
const SEED = Number(process.env.FURROW_AL_TEST_SEED ?? 1);
const POOL = 600;
const GOLD = 400;
const ROUNDS = [20, 40, 60];
const LABELS = ['left', 'middle', 'right'];

/** The class of a point: three bands between two parallel lines. */
function classOf(x: number, y: number): string {
  const t = x + 0.5 * y;
  return t < -0.4 ? 'left' : t > 0.4 ? 'right' : 'middle';
}

/**
 * `n` points in [-1, 1]^2, a `spread` share of them uniform, the rest repeats of six easy look-alikes
 * (tight clusters well inside the bands), as a scraped pool full of near-duplicates is.
 */
function makeData(n: number, seed: number, spread: number): { vector: number[]; label: string }[] {
  const rnd = mulberry32(seed);
  const centres = [
    [-0.8, -0.6],
    [-0.9, 0.5],
    [0, -0.8],
    [0.1, 0.6],
    [0.8, 0.4],
    [0.9, -0.5],
  ];
  return Array.from({ length: n }, () => {
    let x = rnd() * 2 - 1;
    let y = rnd() * 2 - 1;
    if (rnd() >= spread) {
      const [cx, cy] = centres[Math.floor(rnd() * centres.length)];
      x = cx + (rnd() - 0.5) * 0.1;
      y = cy + (rnd() - 0.5) * 0.1;
    }
    return { vector: [x, y], label: classOf(x, y) };
  });
}

describe('active learning beats random sampling (seeded, small)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  it('the default strategy ends more accurate than random labels with the same model and budget', async () => {
    const task = {
      modality: 'vector' as const,
      labels: LABELS,
      seed: SEED,
      settings: { vectorDim: 2, minLabelsToTrain: 2 },
      pool: makeData(POOL, SEED * 1000 + 1, 0.15).map((p) => ({ data: { vector: p.vector }, label: p.label })),
      gold: makeData(GOLD, SEED * 1000 + 2, 1).map((g) => ({ data: { vector: g.vector }, label: g.label })),
      rounds: ROUNDS,
    };
    await expectDefaultBeatsRandom(s, 'active-learning', task);
  }, 900_000);
});
