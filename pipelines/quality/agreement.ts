/**
 * Agreement between annotators: Cohen's kappa (two annotators), Fleiss' kappa (a fixed number of ratings per
 * item), Krippendorff's alpha for nominal data (any number of annotators per item, missing labels allowed: the
 * one the API reports), raw pairwise agreement and the annotator-by-annotator agreement table.
 *
 * These measure consistency, not correctness: alpha under-states quality on imbalanced classes (it was 0.16 on a
 * data set whose consolidated labels are 94 % right, ../shared/workforce-quality.md §4.3). Clients see accuracy on
 * hidden gold first.
 */
import type { Votes } from './votes.ts';

/** Cohen's kappa from observed and chance agreement: (p_o - p_e) / (1 - p_e); null when p_e = 1. */
export function kappaFrom(observed: number, chance: number): number | null {
  if (chance >= 1) return null;
  return (observed - chance) / (1 - chance);
}

/** Cohen's kappa of two annotators over the same items (paired label arrays). Null without items or when undefined. */
export function cohenKappa(a: ArrayLike<number>, b: ArrayLike<number>, classes: number): number | null {
  const n = a.length;
  if (n === 0 || b.length !== n) return null;
  const pa = new Float64Array(classes);
  const pb = new Float64Array(classes);
  let agree = 0;
  for (let i = 0; i < n; i++) {
    pa[a[i]]++;
    pb[b[i]]++;
    if (a[i] === b[i]) agree++;
  }
  let chance = 0;
  for (let k = 0; k < classes; k++) chance += (pa[k] / n) * (pb[k] / n);
  return kappaFrom(agree / n, chance);
}

/**
 * Fleiss' kappa from an items x classes table of rating counts; every item must have the same number of ratings
 * (at least 2). Null when the table does not qualify.
 */
export function fleissKappa(table: readonly (readonly number[])[]): number | null {
  if (table.length === 0) return null;
  const m = table[0].reduce((s, x) => s + x, 0);
  if (m < 2 || table.some((row) => row.reduce((s, x) => s + x, 0) !== m)) return null;
  const K = table[0].length;
  const p = new Float64Array(K);
  let pBar = 0;
  for (const row of table) {
    let s = 0;
    for (let k = 0; k < K; k++) {
      s += row[k] * (row[k] - 1);
      p[k] += row[k];
    }
    pBar += s / (m * (m - 1));
  }
  pBar /= table.length;
  let pe = 0;
  for (let k = 0; k < K; k++) pe += (p[k] / (table.length * m)) ** 2;
  return kappaFrom(pBar, pe);
}

/**
 * Krippendorff's alpha for nominal values. `units` lists, per item, the values its annotators gave (any count;
 * units with fewer than 2 values are not pairable and are skipped). Null when fewer than 2 pairable values exist
 * or every pairable value is the same (no expected disagreement).
 */
export function krippendorffAlphaNominal(units: readonly (readonly number[])[]): number | null {
  const coincidence = new Map<number, Map<number, number>>();
  const add = (c: number, k: number, w: number) => {
    let row = coincidence.get(c);
    if (!row) {
      row = new Map();
      coincidence.set(c, row);
    }
    row.set(k, (row.get(k) ?? 0) + w);
  };
  for (const unit of units) {
    const m = unit.length;
    if (m < 2) continue;
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (i !== j) add(unit[i], unit[j], 1 / (m - 1));
  }
  const nc = new Map<number, number>();
  let n = 0;
  let disagreeObserved = 0;
  for (const [c, row] of coincidence) {
    for (const [k, w] of row) {
      nc.set(c, (nc.get(c) ?? 0) + w);
      n += w;
      if (c !== k) disagreeObserved += w;
    }
  }
  if (n < 2) return null;
  let disagreeExpected = 0;
  for (const [c, a] of nc) for (const [k, b] of nc) if (c !== k) disagreeExpected += a * b;
  if (disagreeExpected === 0) return null;
  return 1 - ((n - 1) * disagreeObserved) / disagreeExpected;
}

/** Votes grouped per item (class indices), for alpha. */
export function unitsOf(v: Votes): number[][] {
  const units: number[][] = Array.from({ length: v.items }, () => []);
  for (let j = 0; j < v.item.length; j++) units[v.item[j]].push(v.label[j]);
  return units;
}

export interface PairAgreement {
  a: number;
  b: number;
  /** Items both labelled. */
  shared: number;
  /** Share of those on which they gave the same label. */
  agreement: number;
  /** Cohen's kappa on the shared items (null when undefined, e.g. one class only). */
  kappa: number | null;
}

export interface AgreementSummary {
  /** Krippendorff's alpha (nominal) over all items with 2+ labels; null when undefined. */
  alpha: number | null;
  /** Share of agreeing pairs among all pairs of labels given to the same item; null without any pair. */
  pairwise: number | null;
  /** Items with 2+ labels (the ones agreement is measured on). */
  overlappingItems: number;
  /** Every pair of annotators that shares at least one item. */
  pairs: PairAgreement[];
}

/** Alpha, raw pairwise agreement and the per-pair table, in one pass over the votes. */
export function agreement(v: Votes): AgreementSummary {
  const units = unitsOf(v);
  const byItem: { a: number; l: number }[][] = Array.from({ length: v.items }, () => []);
  for (let j = 0; j < v.item.length; j++) byItem[v.item[j]].push({ a: v.annotator[j], l: v.label[j] });
  const pairLabels = new Map<number, { a: number; b: number; la: number[]; lb: number[] }>();
  let pairs = 0;
  let agreeing = 0;
  let overlappingItems = 0;
  for (const list of byItem) {
    if (list.length < 2) continue;
    overlappingItems++;
    for (let x = 0; x < list.length; x++) {
      for (let y = x + 1; y < list.length; y++) {
        pairs++;
        if (list[x].l === list[y].l) agreeing++;
        const [p, q] = list[x].a < list[y].a ? [list[x], list[y]] : [list[y], list[x]];
        const key = p.a * v.annotators + q.a;
        let entry = pairLabels.get(key);
        if (!entry) {
          entry = { a: p.a, b: q.a, la: [], lb: [] };
          pairLabels.set(key, entry);
        }
        entry.la.push(p.l);
        entry.lb.push(q.l);
      }
    }
  }
  const table: PairAgreement[] = [];
  for (const { a, b, la, lb } of pairLabels.values()) {
    let same = 0;
    for (let t = 0; t < la.length; t++) if (la[t] === lb[t]) same++;
    table.push({ a, b, shared: la.length, agreement: same / la.length, kappa: cohenKappa(la, lb, v.classes) });
  }
  table.sort((p, q) => p.a - q.a || p.b - q.b);
  return { alpha: krippendorffAlphaNominal(units), pairwise: pairs > 0 ? agreeing / pairs : null, overlappingItems, pairs: table };
}
