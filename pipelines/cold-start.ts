import type { ProjectModality } from '../core/types.ts';
import { normaliseRows } from '../models/clustering.ts';
import { clopperPearsonLower } from './autolabel.ts';
import { classifierModality, modelInputOf } from './inputs.ts';

/** Dimensions of the hashed bag of words used to spread out a cold-start text sample. */
const TEXT_DIM = 512;
/** Images are average-pooled to at most this many values per side before comparing them (shape, not detail). */
const IMAGE_SIDE = 7;

/**
 * A model-free representation for spreading the first labels over the data: pooled pixels for images, the
 * vector itself, a hashed bag of words for text. Rows are L2-normalised.
 */
export function rawFeatures(
  rows: { input: Uint8Array | null; data: Record<string, unknown> }[],
  projectModality: ProjectModality,
  image?: { width: number; height: number; channels: number },
): { dim: number; data: Float32Array } {
  const modality = classifierModality(projectModality);
  if (!rows.length) return { dim: 0, data: new Float32Array(0) };
  let dim: number;
  let fill: (r: (typeof rows)[number], out: Float32Array) => void;
  if (modality === 'text') {
    dim = TEXT_DIM;
    fill = (r, out) => {
      for (const w of String(r.data.text ?? '')
        .toLowerCase()
        .split(/[^a-z0-9']+/)) {
        if (!w) continue;
        let h = 2166136261;
        for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
        out[(h >>> 0) % TEXT_DIM] += 1;
      }
    };
  } else if (modality === 'vector') {
    dim = (modelInputOf(rows[0], 'vector') as Float32Array).length;
    fill = (r, out) => out.set(modelInputOf(r, 'vector') as Float32Array);
  } else {
    const { width, height, channels } = image!;
    const f = Math.max(1, Math.ceil(Math.max(width, height) / IMAGE_SIDE));
    const pw = Math.ceil(width / f);
    const ph = Math.ceil(height / f);
    dim = pw * ph * channels;
    fill = (r, out) => {
      const px = r.input!;
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++)
          for (let c = 0; c < channels; c++) out[(Math.floor(y / f) * pw + Math.floor(x / f)) * channels + c] += px[(y * width + x) * channels + c];
    };
  }
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => fill(r, data.subarray(i * dim, (i + 1) * dim)));
  normaliseRows(data, dim);
  return { dim, data };
}

/** The embedding cache's version number for model-free features (model versions count from 1). */
export const RAW_FEATURES_VERSION = 0;

/**
 * Whether a modality's model-free features are worth caching between queue requests: images', whose inputs
 * are large to read and whose pooled features are small (147 values at 7x7 RGB); not text's 512 hashed
 * counts, read from a few hundred bytes of text.
 */
export function rawFeaturesCached(projectModality: ProjectModality): boolean {
  return classifierModality(projectModality) === 'image';
}

/**
 * The model proves itself when its held-out accuracy, corrected for chance (Cohen's kappa against guessing
 * among k classes: (acc - 1/k) / (1 - 1/k)), reaches this at the lower end of its one-sided 95% interval.
 * On Fashion-MNIST (k = 10) that is 0.73 accuracy, which the model reaches at about 150-200 labels: the range
 * where, measured, uncertainty sampling stopped losing to typical items (docs/active-learning.md).
 */
export const COLD_START_PROOF_KAPPA = 0.7;
/** However the model does (a hard task, few held-out labels), the cold start ends at this many human labels. */
export const COLD_START_MAX_LABELS = 500;

/**
 * Whether the default cold start of an image project is over: the active version's held-out (gold) accuracy,
 * at the lower end of its one-sided 95% Clopper-Pearson interval, is at least COLD_START_PROOF_KAPPA above
 * chance, or the project has COLD_START_MAX_LABELS human labels.
 *
 * @param gold the active version's held-out metrics (`n` items, `accuracy` in [0, 1]); undefined before any
 * @param classes number of classes of the project
 */
export function coldStartProven(gold: { n?: number; accuracy?: number | null } | undefined, classes: number, humanLabels: number): boolean {
  if (humanLabels >= COLD_START_MAX_LABELS) return true;
  if (!gold?.n || gold.accuracy == null) return false;
  const lower = clopperPearsonLower(Math.round(gold.accuracy * gold.n), gold.n);
  const chance = 1 / classes;
  return (lower - chance) / (1 - chance) >= COLD_START_PROOF_KAPPA;
}
