/**
 * Model candidates per modality and their choice by stratified k-fold cross-validation on a project's own
 * human labels. Pure: training and prediction are passed in (the pipeline trains in the model worker, the
 * benchmarks in-process), so the same rule runs everywhere.
 *
 * The rule (docs/models.md):
 * - k = min(MAX_FOLDS, the smallest label count among classes with at least 2 labels). Classes with a single
 *   label stay in every training fold and are never held out. Fewer than 2 such classes, or k < 2: no CV,
 *   the modality's fallback candidate, with the reason recorded.
 * - Folds are stratified and seeded; at most CV_MAX_LABELS labels take part (a stratified, seeded subsample).
 * - Every candidate is scored by its mean held-out accuracy over the folds; the highest mean wins, ties go to
 *   the earlier candidate in the list (cheaper first).
 * - A change of model needs evidence: when the previous version's candidate (the incumbent) is among them, the
 *   winner replaces it only if its paired gain over the same folds exceeds one standard error of that gain.
 *   On a few dozen labels, most of them chosen by the queue because they are hard, fold means differ by noise,
 *   and a switch on noise cost 11 points of gold accuracy on fine-foods (0.745 -> 0.63 at 100 labels).
 */
import type { Modality, ModelInput } from '../core/types.ts';
import type { FitOptions, ModelSpec } from './classifier.ts';
import { IMAGE_CNN_ARCH } from './image-cnn.ts';
import { IMAGE_ENSEMBLE_ARCH } from './image-ensemble.ts';
import { TEXT_TFIDF_ARCH, VECTOR_LINEAR_ARCH } from './linear-models.ts';
import { createPrng } from './prng.ts';
import { TEXT_NGRAM_LEX_ARCH, TEXT_NGRAM_V1_ARCH } from './text-ngram.ts';
import { VECTOR_MLP_ARCH } from './vector-mlp.ts';

export interface Candidate {
  /** What settings.model names and /models shows, e.g. 'tfidf-lr'. */
  name: string;
  arch: string;
  /** Spec fields the candidate sets (e.g. C). */
  params?: { C?: number };
  /** Training options for the cross-validation fits only (fewer epochs for an expensive candidate). */
  cvOptions?: Pick<FitOptions, 'epochs'>;
  /** Only cross-validated for projects with at most this many classes (cost: see ngram-lex). */
  maxClasses?: number;
}

/** Candidates in tie-break order (the fallback first). Variants of one name differ only in params. */
export const CANDIDATES: Readonly<Record<Modality, readonly Candidate[]>> = {
  text: [
    { name: 'tfidf-lr', arch: TEXT_TFIDF_ARCH, params: { C: 10 } },
    { name: 'tfidf-lr', arch: TEXT_TFIDF_ARCH, params: { C: 100 } },
    { name: 'tfidf-lr', arch: TEXT_TFIDF_ARCH, params: { C: 1 } },
    { name: 'ngram-mlp', arch: TEXT_NGRAM_V1_ARCH },
    // A sentiment lexicon: the best text model on fine-foods (2 classes), the worst on every many-class task
    // measured (docs/models.md), and the most expensive fit. Cross-validated for up to 3 classes only.
    { name: 'ngram-lex', arch: TEXT_NGRAM_LEX_ARCH, maxClasses: 3 },
  ],
  vector: [
    { name: 'mlp', arch: VECTOR_MLP_ARCH },
    { name: 'linear', arch: VECTOR_LINEAR_ARCH, params: { C: 1 } },
    { name: 'linear', arch: VECTOR_LINEAR_ARCH, params: { C: 10 } },
    { name: 'linear', arch: VECTOR_LINEAR_ARCH, params: { C: 0.1 } },
  ],
  image: [
    // CV fits get a fixed 15 epochs (no minimum-step top-up): both candidates under the same budget per
    // network, so the comparison stays fair while a selection costs 2 folds x 4 short CNN fits.
    { name: 'cnn', arch: IMAGE_CNN_ARCH, cvOptions: { epochs: 15 } },
    { name: 'cnn-ensemble', arch: IMAGE_ENSEMBLE_ARCH, cvOptions: { epochs: 15 } },
  ],
};

/** Every candidate name settings.model accepts (besides 'auto'). */
export const CANDIDATE_NAMES = ['tfidf-lr', 'ngram-mlp', 'ngram-lex', 'mlp', 'linear', 'cnn', 'cnn-ensemble'] as const;
export type CandidateName = (typeof CANDIDATE_NAMES)[number];

export const MAX_FOLDS = 5;
/** At most this many labels take part in a cross-validation (stratified subsample above). */
export const CV_MAX_LABELS: Record<Modality, number> = { text: 500, vector: 1000, image: 300 };
/** Folds for images (each fold trains an ensemble of three CNNs). */
export const IMAGE_MAX_FOLDS = 2;

/** Above NETWORK_ALL_FOLDS_LABELS labels, network candidates of text and vectors run only this many folds (cost; see crossValidate). */
export const NETWORK_FOLDS = 2;
/** Up to this many labels every candidate runs every fold: fits are cheap there and 2 folds of a few dozen items are noisy. */
export const NETWORK_ALL_FOLDS_LABELS = 200;

/** The foldsFor rule of the pipeline: linear candidates run every fold, text/vector networks NETWORK_FOLDS above NETWORK_ALL_FOLDS_LABELS. */
export function defaultFoldsFor(modality: Modality, labels = Infinity): (c: Candidate) => number | undefined {
  if (labels <= NETWORK_ALL_FOLDS_LABELS) return () => undefined;
  return (c) => (modality !== 'image' && c.arch !== 'tfidf-lr-v1' && c.arch !== 'linear-v1' ? NETWORK_FOLDS : undefined);
}

/** A candidate's label, e.g. 'tfidf-lr (C=10)'. */
export function candidateKey(c: Candidate): string {
  return c.params?.C !== undefined ? `${c.name} (C=${c.params.C})` : c.name;
}

/** The spec a candidate trains with. */
export function candidateSpec(base: ModelSpec, c: Candidate): ModelSpec {
  return { ...base, arch: c.arch, ...(c.params?.C !== undefined ? { C: c.params.C } : {}) };
}

/** The fallback candidate of a modality (used without CV). */
export function fallbackCandidate(modality: Modality): Candidate {
  return CANDIDATES[modality][0];
}

/** The candidates cross-validated for a project with `classes` classes. */
export function candidatesFor(modality: Modality, classes: number): Candidate[] {
  return CANDIDATES[modality].filter((c) => c.maxClasses === undefined || classes <= c.maxClasses);
}

/** The default-variant candidate of a forced name, or undefined when the name is not one of this modality's. */
export function forcedCandidate(modality: Modality, name: string): Candidate | undefined {
  return CANDIDATES[modality].find((c) => c.name === name);
}

export interface CandidateScore {
  candidate: string;
  name: string;
  arch: string;
  C?: number;
  mean: number;
  sd: number;
  /** Folds this candidate ran. */
  k: number;
  /** Per-fold accuracies. */
  folds: number[];
}

/** What a version records about how its model was chosen (metrics.selection). */
export interface SelectionRecord {
  /** 'cv': chosen by cross-validation now; 'reused': the last CV's choice; 'forced': settings.model; 'fallback': no CV possible. */
  method: 'cv' | 'reused' | 'forced' | 'fallback';
  chosen: string;
  name: string;
  arch: string;
  C?: number;
  /** Why this candidate (one sentence). */
  reason: string;
  k: number | null;
  /** Labels in the cross-validation (after the subsample). */
  labels: number | null;
  scores: CandidateScore[];
  /** Labels at the cross-validation these scores come from (equal to the version's for 'cv'). */
  selectedAtLabels: number | null;
  seconds: number;
}

/** Stratified, seeded fold ids (-1 = never held out: its class has a single label). */
export function stratifiedFolds(labels: ArrayLike<number>, k: number, seed: number): Int32Array {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const prng = createPrng(seed);
  const fold = new Int32Array(labels.length).fill(-1);
  let offset = 0;
  for (const cls of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(cls)!;
    if (rows.length < 2) continue;
    const order = prng.shuffle(Int32Array.from(rows));
    // Rotating the start spreads the remainders of small classes over the folds.
    order.forEach((row, j) => (fold[row] = (j + offset) % k));
    offset += order.length;
  }
  return fold;
}

/** How many folds the labels support, or a reason there can be no CV. */
export function foldPlan(labels: ArrayLike<number>, maxFolds: number, classNames: string[]): { k: number; note?: string } | { k: 0; reason: string } {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  const multi = [...counts.values()].filter((c) => c >= 2);
  if (counts.size < 2) return { k: 0, reason: `all labels are of one class (${classNames[labels[0]] ?? 'none'}), so there is nothing to cross-validate` };
  if (multi.length < 2) return { k: 0, reason: 'fewer than two classes have 2 or more labels, so no fold can hold out a class that also stays in training' };
  const k = Math.min(maxFolds, Math.min(...multi));
  const singles = [...counts.entries()].filter(([, c]) => c < 2).map(([y]) => classNames[y] ?? String(y));
  return singles.length
    ? { k, note: `classes with a single label (${singles.slice(0, 5).join(', ')}${singles.length > 5 ? ', ...' : ''}) stay in every training fold` }
    : { k };
}

/** A stratified, seeded subsample of at most `max` row indices (proportional per class, at least 1 each). */
export function stratifiedSubsample(labels: ArrayLike<number>, max: number, seed: number): Int32Array {
  if (labels.length <= max) return Int32Array.from({ length: labels.length }, (_, i) => i);
  const prng = createPrng(seed ^ 0x3c6ef372);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) (byClass.get(labels[i]) ?? byClass.set(labels[i], []).get(labels[i])!).push(i);
  const out: number[] = [];
  for (const rows of byClass.values()) {
    const take = Math.max(Math.min(rows.length, 2), Math.round((rows.length * max) / labels.length));
    out.push(...prng.shuffle(Int32Array.from(rows)).subarray(0, take));
  }
  return Int32Array.from(out.sort((a, b) => a - b));
}

/** Trains `spec` on the rows and returns probabilities of `test` rows (n*k). */
export type FoldRunner = (
  spec: ModelSpec,
  train: { inputs: ModelInput[]; labels: Int32Array },
  test: ModelInput[],
  options: Pick<FitOptions, 'epochs' | 'seed'>,
) => Promise<Float32Array>;

export interface CrossValidateOptions {
  base: ModelSpec;
  candidates: readonly Candidate[];
  inputs: ModelInput[];
  labels: Int32Array;
  maxFolds: number;
  maxLabels: number;
  seed: number;
  run: FoldRunner;
  /** Folds an (expensive) candidate runs, the first ones of the same split; all k when undefined. */
  foldsFor?: (c: Candidate) => number | undefined;
  /** The previous version's candidate (candidateKey): kept unless beaten by more than one standard error. */
  incumbent?: string;
  onProgress?: (p: number) => void;
}

/** Mean and standard error of the per-fold differences a - b over the first n folds. */
export function paired(a: number[], b: number[], n: number): { mean: number; se: number } {
  const d = Array.from({ length: n }, (_, i) => a[i] - b[i]);
  const mean = d.reduce((x, y) => x + y, 0) / n;
  const sd = n > 1 ? Math.sqrt(d.reduce((x, y) => x + (y - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, se: sd / Math.sqrt(n) };
}

/** Accuracy of argmax rows against labels. */
export function accuracyOf(probs: Float32Array, labels: Int32Array, k: number): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let top = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + top]) top = c;
    if (top === labels[i]) correct++;
  }
  return labels.length ? correct / labels.length : 0;
}

/**
 * Cross-validates every candidate and picks the best; without a feasible fold plan, the fallback with the
 * reason. The ensemble candidate is scored from the same fits as its members would be: none of that is
 * special-cased here, each candidate trains its own models.
 */
export async function crossValidate(o: CrossValidateOptions): Promise<SelectionRecord> {
  const started = Date.now();
  const k = o.base.labels.length;
  const keep = stratifiedSubsample(o.labels, o.maxLabels, o.seed);
  const labels = Int32Array.from(keep, (i) => o.labels[i]);
  const inputs = Array.from(keep, (i) => o.inputs[i]);
  const plan = foldPlan(labels, o.maxFolds, o.base.labels);
  if (plan.k === 0) {
    const fb = o.candidates[0];
    return {
      method: 'fallback',
      chosen: candidateKey(fb),
      name: fb.name,
      arch: fb.arch,
      C: fb.params?.C,
      reason: `No cross-validation: ${(plan as { reason: string }).reason}; trained the fallback candidate ${candidateKey(fb)}.`,
      k: null,
      labels: labels.length,
      scores: [],
      selectedAtLabels: null,
      seconds: (Date.now() - started) / 1000,
    };
  }
  const folds = stratifiedFolds(labels, plan.k, o.seed);
  const scores: CandidateScore[] = [];
  const foldsOf = (c: Candidate) => Math.max(1, Math.min(plan.k, o.foldsFor?.(c) ?? plan.k));
  const total = o.candidates.reduce((a, c) => a + foldsOf(c), 0);
  let done = 0;
  for (const c of o.candidates) {
    const accs: number[] = [];
    for (let f = 0; f < foldsOf(c); f++) {
      const tr: number[] = [];
      const te: number[] = [];
      for (let i = 0; i < labels.length; i++) (folds[i] === f ? te : tr).push(i);
      const probs = await o.run(
        candidateSpec(o.base, c),
        { inputs: tr.map((i) => inputs[i]), labels: Int32Array.from(tr, (i) => labels[i]) },
        te.map((i) => inputs[i]),
        { ...c.cvOptions, seed: o.seed + 101 * f },
      );
      accs.push(
        accuracyOf(
          probs,
          Int32Array.from(te, (i) => labels[i]),
          k,
        ),
      );
      o.onProgress?.(++done / total);
    }
    const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
    const sd = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, accs.length - 1));
    scores.push({
      candidate: candidateKey(c),
      name: c.name,
      arch: c.arch,
      ...(c.params?.C !== undefined ? { C: c.params.C } : {}),
      mean,
      sd,
      k: accs.length,
      folds: accs,
    });
  }
  // Candidates are compared on the folds they all ran (paired: same held-out items).
  const common = Math.min(...o.candidates.map(foldsOf));
  const compared = scores.map((s) => s.folds.slice(0, common).reduce((a, b) => a + b, 0) / common);
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (compared[i] > compared[best] + 1e-9) best = i;
  const inc = o.incumbent === undefined ? -1 : scores.findIndex((s) => s.candidate === o.incumbent);
  let kept = '';
  if (inc >= 0 && inc !== best) {
    const gain = paired(scores[best].folds, scores[inc].folds, common);
    if (gain.mean <= gain.se) {
      kept = ` The previous model, ${scores[inc].candidate} (${compared[inc].toFixed(3)}), is kept: ${scores[best].candidate} is ahead by ${gain.mean.toFixed(3)}, not more than one standard error (${gain.se.toFixed(3)}).`;
      best = inc;
    }
  }
  const win = o.candidates[best];
  const runnerUp = scores.filter((_, i) => i !== best).sort((a, b) => b.mean - a.mean)[0];
  const fmt = (s: CandidateScore) => `${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)}`;
  const reason =
    `Highest mean accuracy in ${plan.k}-fold stratified cross-validation on ${labels.length} labels` +
    (common < plan.k ? ` (compared on the ${common} folds every candidate ran)` : '') +
    `: ${scores[best].candidate} ${fmt(scores[best])}` +
    (runnerUp ? `, next ${runnerUp.candidate} ${fmt(runnerUp)}` : '') +
    ('note' in plan && plan.note ? `; ${plan.note}` : '') +
    '.' +
    kept;
  return {
    method: 'cv',
    chosen: candidateKey(win),
    name: win.name,
    arch: win.arch,
    C: win.params?.C,
    reason,
    k: plan.k,
    labels: labels.length,
    scores,
    selectedAtLabels: o.labels.length,
    seconds: (Date.now() - started) / 1000,
  };
}
