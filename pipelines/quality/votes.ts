/**
 * Label rows -> the compact, indexed form every consolidation and agreement function works on.
 *
 * Semantics (docs/quality.md): labels from distinct annotators on one item are separate votes; a second label
 * from the same annotator on the same item is a correction of that annotator's own vote, so only the latest
 * one counts. Rows whose label is not one of the project's classes are dropped and counted, never guessed.
 */

/** One stored human label, oldest first within an item and annotator. */
export interface LabelRow {
  itemId: string;
  /** The API key that gave the label (one annotator). */
  annotatorId: string;
  label: string;
  /** Seconds the annotator spent, when known (for the median-seconds figure). */
  seconds?: number | null;
}

/** Votes in index form: vote v says annotator `annotator[v]` gave item `item[v]` class `label[v]`. */
export interface Votes {
  classes: number;
  items: number;
  annotators: number;
  item: Int32Array;
  annotator: Int32Array;
  label: Int32Array;
  /** Per item: the gold class index, or -1 when the item has no (trusted) gold answer. */
  gold: Int32Array;
}

export interface IndexedVotes {
  votes: Votes;
  itemIds: string[];
  annotatorIds: string[];
  classNames: readonly string[];
  /** Earlier labels of an annotator on an item that a later label of the same annotator replaced. */
  corrections: number;
  /** Rows whose label is not a class of the project (ignored). */
  unknownLabels: number;
}

/**
 * Indexes label rows (in chronological order) and gold answers. Items that only have a gold answer and no vote
 * are still indexed (they cost nothing and keep gold accuracy honest).
 */
export function indexVotes(rows: readonly LabelRow[], classNames: readonly string[], gold: ReadonlyMap<string, string> = new Map()): IndexedVotes {
  const classIndex = new Map(classNames.map((c, i) => [c, i] as const));
  const itemIndex = new Map<string, number>();
  const annotatorIndex = new Map<string, number>();
  const itemIds: string[] = [];
  const annotatorIds: string[] = [];
  const itemOf = (id: string) => {
    let i = itemIndex.get(id);
    if (i === undefined) {
      i = itemIds.length;
      itemIndex.set(id, i);
      itemIds.push(id);
    }
    return i;
  };
  // Per item: annotator -> position in the kept arrays; a later row overwrites the earlier vote.
  const seen: Map<number, number>[] = [];
  const item: number[] = [];
  const annotator: number[] = [];
  const label: number[] = [];
  let corrections = 0;
  let unknownLabels = 0;
  for (const row of rows) {
    const c = classIndex.get(row.label);
    if (c === undefined) {
      unknownLabels++;
      continue;
    }
    const i = itemOf(row.itemId);
    let a = annotatorIndex.get(row.annotatorId);
    if (a === undefined) {
      a = annotatorIds.length;
      annotatorIndex.set(row.annotatorId, a);
      annotatorIds.push(row.annotatorId);
    }
    let mine = seen[i];
    if (!mine) seen[i] = mine = new Map();
    const at = mine.get(a);
    if (at !== undefined) {
      label[at] = c;
      corrections++;
      continue;
    }
    mine.set(a, item.length);
    item.push(i);
    annotator.push(a);
    label.push(c);
  }
  const goldPairs: [number, number][] = [];
  for (const [id, answer] of gold) {
    const c = classIndex.get(answer);
    if (c !== undefined) goldPairs.push([itemOf(id), c]);
  }
  const goldArr = new Int32Array(itemIds.length).fill(-1);
  for (const [i, c] of goldPairs) goldArr[i] = c;
  return {
    votes: {
      classes: classNames.length,
      items: itemIds.length,
      annotators: annotatorIds.length,
      item: Int32Array.from(item),
      annotator: Int32Array.from(annotator),
      label: Int32Array.from(label),
      gold: goldArr,
    },
    itemIds,
    annotatorIds,
    classNames,
    corrections,
    unknownLabels,
  };
}

/** Votes built directly from index arrays (simulations, benchmarks). `gold` defaults to none. */
export function votesFrom(
  classes: number,
  items: number,
  annotators: number,
  item: ArrayLike<number>,
  annotator: ArrayLike<number>,
  label: ArrayLike<number>,
  gold?: ArrayLike<number>,
): Votes {
  const g = new Int32Array(items).fill(-1);
  if (gold) for (let i = 0; i < items; i++) g[i] = gold[i] ?? -1;
  return { classes, items, annotators, item: Int32Array.from(item), annotator: Int32Array.from(annotator), label: Int32Array.from(label), gold: g };
}
