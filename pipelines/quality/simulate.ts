/**
 * Seeded simulated annotators for tests and `npm run bench:quality`: the scenarios of
 * ../shared/workforce-quality.md §4.4 (2,000 items, labels per item drawn from a pool of distinct annotators,
 * true classes uniform, errors uniform over the other classes unless an annotator says otherwise).
 */
import { createPrng, type Prng } from '../../models/prng.ts';
import { votesFrom, type Votes } from './votes.ts';

/** How one simulated annotator answers. */
export type SimAnnotator =
  /** Right with probability `accuracy`, otherwise a uniformly chosen other class. */
  | { kind: 'uniform'; accuracy: number }
  /** Clicks a uniformly random class whatever the item. */
  | { kind: 'clicker' }
  /**
   * Right with probability `accuracy`, except that on its blind-spot class it answers the look-alike class half
   * of the time ("shirt" vs "T-shirt"). Look-alikes are pairs (0,1), (2,3), ...
   */
  | { kind: 'blind-spot'; accuracy: number; blindSpot: number };

/** The class a blind-spot annotator confuses `c` with. */
export function lookAlike(c: number, K: number): number {
  const partner = c ^ 1;
  return partner < K ? partner : c;
}

/** One answer of `who` to an item of true class `truth`. */
export function answer(who: SimAnnotator, truth: number, K: number, rng: Prng): number {
  if (who.kind === 'clicker') return rng.int(K);
  if (who.kind === 'blind-spot' && truth === who.blindSpot && rng.next() < 0.5) return lookAlike(truth, K);
  if (rng.next() < who.accuracy) return truth;
  const other = rng.int(K - 1);
  return other >= truth ? other + 1 : other;
}

/** The probability that `who` answers right (its true accuracy, averaged over uniform classes). */
export function trueAccuracy(who: SimAnnotator, K: number): number {
  if (who.kind === 'clicker') return 1 / K;
  if (who.kind === 'uniform') return who.accuracy;
  return ((K - 1) * who.accuracy + 0.5 * who.accuracy) / K;
}

export interface Simulation {
  votes: Votes;
  truth: Int32Array;
  pool: SimAnnotator[];
  /** Per annotator, the share of its simulated votes that were right (the realised accuracy). */
  realisedAccuracy: Float64Array;
}

export interface SimulationOptions {
  seed: number;
  items: number;
  classes: number;
  pool: SimAnnotator[];
  labelsPerItem: number;
}

/** Every item gets `labelsPerItem` votes from distinct annotators drawn uniformly from the pool. */
export function simulate(o: SimulationOptions): Simulation {
  const rng = createPrng(o.seed);
  const truth = new Int32Array(o.items);
  const item: number[] = [];
  const annotator: number[] = [];
  const label: number[] = [];
  const order = o.pool.map((_, a) => a);
  for (let i = 0; i < o.items; i++) {
    truth[i] = rng.int(o.classes);
    // Partial Fisher-Yates: the first labelsPerItem of a shuffled pool.
    for (let t = 0; t < o.labelsPerItem; t++) {
      const j = t + rng.int(order.length - t);
      [order[t], order[j]] = [order[j], order[t]];
      const a = order[t];
      item.push(i);
      annotator.push(a);
      label.push(answer(o.pool[a], truth[i], o.classes, rng));
    }
  }
  const votes = votesFrom(o.classes, o.items, o.pool.length, item, annotator, label);
  return { votes, truth, pool: o.pool, realisedAccuracy: realised(votes, truth) };
}

function realised(v: Votes, truth: Int32Array): Float64Array {
  const right = new Float64Array(v.annotators);
  const n = new Float64Array(v.annotators);
  for (let j = 0; j < v.item.length; j++) {
    n[v.annotator[j]]++;
    if (v.label[j] === truth[v.item[j]]) right[v.annotator[j]]++;
  }
  return right.map((r, a) => (n[a] > 0 ? r / n[a] : Number.NaN));
}

/** A pool of `size` uniform annotators with accuracies drawn from U(lo, hi). */
export function uniformPool(rng: Prng, size: number, lo: number, hi: number): SimAnnotator[] {
  return Array.from({ length: size }, () => ({ kind: 'uniform' as const, accuracy: lo + (hi - lo) * rng.next() }));
}

/** The documented scenarios, by name; `seed` also draws the pool. */
export function scenario(name: ScenarioName, seed: number): SimulationOptions {
  const rng = createPrng(seed * 7919 + 17);
  const items = 2000;
  switch (name) {
    case 'homogeneous-3':
      return { seed, items, classes: 2, pool: uniformPool(rng, 3, 0.7, 0.9), labelsPerItem: 3 };
    case 'pool10-binary':
      return { seed, items, classes: 2, pool: uniformPool(rng, 10, 0.7, 0.9), labelsPerItem: 3 };
    case 'clickers':
      return { seed, items, classes: 4, pool: [...uniformPool(rng, 8, 0.7, 0.9), { kind: 'clicker' }, { kind: 'clicker' }], labelsPerItem: 3 };
    case 'blind-spot':
      return {
        seed,
        items,
        classes: 4,
        pool: Array.from({ length: 10 }, () => ({ kind: 'blind-spot' as const, accuracy: 0.95, blindSpot: rng.int(4) })),
        labelsPerItem: 3,
      };
    case 'sparse':
      return { seed, items, classes: 10, pool: uniformPool(rng, 300, 0.7, 0.9), labelsPerItem: 3 };
    case 'skill-spread':
      return { seed, items, classes: 2, pool: uniformPool(rng, 10, 0.55, 0.95), labelsPerItem: 3 };
  }
}

export const SCENARIOS = ['homogeneous-3', 'pool10-binary', 'clickers', 'blind-spot', 'sparse', 'skill-spread'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/**
 * Adaptive overlap: each item asks distinct annotators one at a time while `needsAnother(counts)` says so
 * (counts = votes per class so far). Returns the simulation; labels per item = votes / items.
 */
export function simulateAdaptive(o: Omit<SimulationOptions, 'labelsPerItem'> & { needsAnother: (counts: readonly number[]) => boolean }): Simulation {
  const rng = createPrng(o.seed);
  const truth = new Int32Array(o.items);
  const item: number[] = [];
  const annotator: number[] = [];
  const label: number[] = [];
  const order = o.pool.map((_, a) => a);
  for (let i = 0; i < o.items; i++) {
    truth[i] = rng.int(o.classes);
    const counts = new Array<number>(o.classes).fill(0);
    for (let t = 0; t < order.length && o.needsAnother(counts); t++) {
      const j = t + rng.int(order.length - t);
      [order[t], order[j]] = [order[j], order[t]];
      const a = order[t];
      const l = answer(o.pool[a], truth[i], o.classes, rng);
      counts[l]++;
      item.push(i);
      annotator.push(a);
      label.push(l);
    }
  }
  const votes = votesFrom(o.classes, o.items, o.pool.length, item, annotator, label);
  return { votes, truth, pool: o.pool, realisedAccuracy: realised(votes, truth) };
}
