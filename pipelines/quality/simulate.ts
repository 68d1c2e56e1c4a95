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

/** How the budget simulation decides between a new item and another label. */
export type AllocationPolicy =
  /** The rule before expected gain: items overlap wants (adaptive: ask 2, add until a lead of 2 and a vote share >= 0.9, cap) take up to half of each batch, least settled first; new items by model uncertainty fill the rest. */
  | 'adaptive-half'
  /** Each slot to the highest expected gain, another label (`relabelGain`) or a new item (`1 - confidence`). */
  | 'expected-gain';

export interface BudgetOptions {
  seed: number;
  items: number;
  pool: SimAnnotator[];
  /** Human labels to spend. */
  budget: number;
  /** Items per queue request. */
  batch: number;
  cap: number;
  policy: AllocationPolicy;
  /** Gain of a new item and of another label: (confidence) -> gain and (counts, n) -> gain. */
  newGain: (confidence: number) => number;
  relabelGain: (counts: readonly number[], n: number) => number;
  /** The adaptive rule: (counts, vote shares) -> wants another label. */
  needsAnother: (counts: readonly number[], shares: readonly number[]) => boolean;
}

export interface BudgetResult {
  /** Expected share of right final labels over all items (an item nobody labelled carries the model's label; a tie counts 1/2). */
  finalAccuracy: number;
  /** The same over the items with at least one human label. */
  labelledAccuracy: number;
  labelledItems: number;
  labels: number;
  /** Share right if every item kept the model's label. */
  modelOnly: number;
}

/**
 * Spends a fixed budget of human labels on a binary pool that a model has already scored: item i's model label is
 * right with probability confidence_i (calibrated), confidence_i = 0.5 + 0.5 sqrt(u), u ~ U(0, 1) (mean 0.83).
 * Each queue request comes from a random annotator of the pool and never gets an item it labelled. The model does
 * not learn from the labels here: the comparison is about delivered labels only.
 */
export function simulateBudget(o: BudgetOptions): BudgetResult {
  const K = 2;
  const rng = createPrng(o.seed);
  const confidence = new Float64Array(o.items);
  const truth = new Int32Array(o.items);
  const modelRight = new Uint8Array(o.items);
  for (let i = 0; i < o.items; i++) {
    truth[i] = rng.int(K);
    confidence[i] = 0.5 + 0.5 * Math.sqrt(rng.next());
    modelRight[i] = rng.next() < confidence[i] ? 1 : 0;
  }
  // New items in the uncertainty queue's order (least confident first).
  const fresh = Array.from({ length: o.items }, (_, i) => i).sort((a, b) => confidence[a] - confidence[b] || a - b);
  let nextFresh = 0;
  const counts: number[][] = Array.from({ length: o.items }, () => [0, 0]);
  const by: Set<number>[] = Array.from({ length: o.items }, () => new Set<number>());
  const labelled: number[] = [];
  let spent = 0;
  const give = (i: number, a: number) => {
    // Each (item, annotator) answer is drawn from its own stream, so both policies see the same answers.
    const l = answer(o.pool[a], truth[i], K, createPrng(o.seed * 1_000_003 + i * 977 + a));
    if (!by[i].size) labelled.push(i);
    counts[i][l]++;
    by[i].add(a);
    spent++;
  };
  const n = (i: number) => counts[i][0] + counts[i][1];
  while (spent < o.budget) {
    const a = rng.int(o.pool.length);
    const room = Math.min(o.batch, o.budget - spent);
    const open = labelled.filter((i) => n(i) < o.cap && !by[i].has(a));
    const picked: number[] = [];
    if (o.policy === 'adaptive-half') {
      const wanted = open
        .filter((i) => o.needsAnother(counts[i], [counts[i][0] / n(i), counts[i][1] / n(i)]))
        .sort((x, y) => Math.max(...counts[x]) / n(x) - Math.max(...counts[y]) / n(y));
      const half = Math.min(room, Math.max(1, Math.floor(room / 2)));
      picked.push(...wanted.slice(0, half));
      while (picked.length < room && nextFresh < fresh.length) picked.push(fresh[nextFresh++]);
      for (const i of wanted.slice(half)) if (picked.length < room) picked.push(i);
    } else {
      const relabels = open
        .map((i) => ({ i, g: o.relabelGain(counts[i], n(i)) }))
        .filter((r) => r.g > 0)
        .sort((x, y) => y.g - x.g);
      let r = 0;
      while (picked.length < room) {
        const newG = nextFresh < fresh.length ? o.newGain(confidence[fresh[nextFresh]]) : Number.NEGATIVE_INFINITY;
        if (r < relabels.length && relabels[r].g > newG) picked.push(relabels[r++].i);
        else if (nextFresh < fresh.length) picked.push(fresh[nextFresh++]);
        else break;
      }
    }
    if (!picked.length) break;
    for (const i of picked) give(i, a);
  }
  let right = 0;
  let rightLabelled = 0;
  let model = 0;
  for (let i = 0; i < o.items; i++) {
    model += modelRight[i];
    if (!by[i].size) {
      right += modelRight[i];
      continue;
    }
    const c = counts[i];
    const r = c[truth[i]] > c[1 - truth[i]] ? 1 : c[truth[i]] === c[1 - truth[i]] ? 0.5 : 0;
    right += r;
    rightLabelled += r;
  }
  return {
    finalAccuracy: right / o.items,
    labelledAccuracy: labelled.length ? rightLabelled / labelled.length : Number.NaN,
    labelledItems: labelled.length,
    labels: spent,
    modelOnly: model / o.items,
  };
}
