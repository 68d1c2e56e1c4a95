/**
 * Which model a retrain trains: settings.model names a candidate, or 'auto' (the default) lets k-fold
 * cross-validation on the project's human labels choose (models/selection.ts). The CV fits run in the model
 * runner's training worker like any training. When to cross-validate (docs/models.md):
 * - text and vectors: at every retrain (the linear candidates cost well under a second per fold; the
 *   network candidates only run on the first NETWORK_FOLDS folds and are compared with the others on those);
 * - images: when the labels have grown by IMAGE_RESELECT_GROWTH since the last cross-validation (or there
 *   was none); in between the last choice is reused, its scores carried over.
 */
import type { Modality, ModelInput } from '../core/types.ts';
import type { ModelSpec } from '../models/classifier.ts';
import {
  candidatesFor,
  candidateKey,
  candidateSpec,
  crossValidate,
  CV_MAX_LABELS,
  defaultFoldsFor,
  fallbackCandidate,
  forcedCandidate,
  IMAGE_MAX_FOLDS,
  MAX_FOLDS,
  type Candidate,
  type SelectionRecord,
} from '../models/selection.ts';
import type { PipelineContext } from './context.ts';

/** Images re-run the cross-validation once labels reach this multiple of those at the last one. */
export const IMAGE_RESELECT_GROWTH = 2;
/**
 * Images are cross-validated from this many labels on; before, the single CNN trains. Two folds of fewer than
 * 75 images score a candidate on a few dozen items (noise of ±6 points), and each selection trains eight CNNs.
 */
export const IMAGE_MIN_CV_LABELS = 150;
/** Unlabelled pool items the CV fits get (vocabulary / statistics), fewer than the final fit's. */
export const CV_UNLABELED = 2000;

export interface ChooseModelInput {
  modality: Modality;
  base: ModelSpec;
  /** settings.model. */
  setting: string;
  seed: number;
  inputs: ModelInput[];
  labels: Int32Array;
  unlabeled: ModelInput[];
  /** metrics.selection of the latest version, if any. */
  previous?: SelectionRecord;
  jobKey: string;
  onProgress?: (p: number) => void;
}

/** The spec to train and the record of why. Never throws for lack of labels: it falls back with a reason. */
export async function chooseModel(ctx: PipelineContext, o: ChooseModelInput): Promise<{ spec: ModelSpec; selection: SelectionRecord }> {
  const record = (c: Candidate, method: SelectionRecord['method'], reason: string, from?: SelectionRecord): SelectionRecord => ({
    method,
    chosen: candidateKey(c),
    name: c.name,
    arch: c.arch,
    ...(c.params?.C !== undefined ? { C: c.params.C } : {}),
    reason,
    k: from?.k ?? null,
    labels: from?.labels ?? null,
    scores: from?.scores ?? [],
    selectedAtLabels: from?.selectedAtLabels ?? null,
    seconds: 0,
  });
  if (o.setting !== 'auto') {
    const forced = forcedCandidate(o.modality, o.setting);
    if (forced) return { spec: candidateSpec(o.base, forced), selection: record(forced, 'forced', `settings.model is "${o.setting}".`) };
  }
  const prefix = o.setting !== 'auto' ? `settings.model "${o.setting}" is not a ${o.modality} candidate, so it was chosen automatically. ` : '';
  const candidates = candidatesFor(o.modality, o.base.labels.length);
  if (o.modality === 'image' && o.previous && o.previous.selectedAtLabels && (o.previous.method === 'cv' || o.previous.method === 'reused')) {
    const prev = candidates.find((c) => candidateKey(c) === o.previous!.chosen);
    if (prev && o.labels.length < IMAGE_RESELECT_GROWTH * o.previous.selectedAtLabels) {
      return {
        spec: candidateSpec(o.base, prev),
        selection: record(
          prev,
          'reused',
          `${prefix}Reused the choice of the cross-validation at ${o.previous.selectedAtLabels} labels (images re-select at ${IMAGE_RESELECT_GROWTH}x those labels).`,
          o.previous,
        ),
      };
    }
  }
  if (o.modality === 'image' && o.labels.length < IMAGE_MIN_CV_LABELS) {
    const first = candidates[0];
    return {
      spec: candidateSpec(o.base, first),
      selection: {
        ...record(
          first,
          'fallback',
          `${prefix}Images are cross-validated from ${IMAGE_MIN_CV_LABELS} labels on; with ${o.labels.length}, the single CNN trains.`,
        ),
        labels: o.labels.length,
      },
    };
  }
  const unlabeled = o.unlabeled.slice(0, CV_UNLABELED);
  let fits = 0;
  const selection = await crossValidate({
    base: o.base,
    candidates,
    inputs: o.inputs,
    labels: o.labels,
    maxFolds: o.modality === 'image' ? IMAGE_MAX_FOLDS : MAX_FOLDS,
    maxLabels: CV_MAX_LABELS[o.modality],
    seed: o.seed,
    foldsFor: defaultFoldsFor(o.modality, Math.min(o.labels.length, CV_MAX_LABELS[o.modality])),
    incumbent: o.previous && o.previous.method !== 'forced' ? o.previous.chosen : undefined,
    onProgress: o.onProgress,
    run: async (spec, train, test, options) => {
      const { blob } = await ctx.runner.train({
        spec,
        inputs: train.inputs,
        labels: train.labels,
        options: { ...options, ...(unlabeled.length ? { unlabeled } : {}) },
      });
      return ctx.runner.predict({ key: `${o.jobKey}:cv${fits++}`, load: async () => blob }, test);
    },
  });
  if (prefix) selection.reason = prefix + selection.reason;
  const chosen = candidates.find((c) => candidateKey(c) === selection.chosen) ?? fallbackCandidate(o.modality);
  return { spec: candidateSpec(o.base, chosen), selection };
}
