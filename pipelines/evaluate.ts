/** Gold-set metrics of one model version: accuracy, per-class precision/recall/F1, confusion matrix, ECE. */
export interface GoldMetrics {
  n: number;
  accuracy: number | null;
  perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  /** confusion[true][predicted], in the project's label order. */
  confusion: number[][];
  /** Expected calibration error over 10 equal-width confidence bins. */
  ece: number | null;
  /** The reliability diagram behind `ece`: per confidence bin, mean confidence, accuracy and count. */
  calibration: { lower: number; upper: number; confidence: number | null; accuracy: number | null; n: number }[];
}

/**
 * @param probs n*k row-major class probabilities
 * @param truth n true class indices
 */
export function goldMetrics(probs: Float32Array, truth: ArrayLike<number>, labelNames: string[]): GoldMetrics {
  const k = labelNames.length;
  const n = truth.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const bins = Array.from({ length: 10 }, () => ({ n: 0, conf: 0, correct: 0 }));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + best]) best = c;
    const conf = probs[i * k + best];
    const ok = best === truth[i];
    if (ok) correct++;
    confusion[truth[i]][best]++;
    const b = bins[Math.min(9, Math.floor(conf * 10))];
    b.n++;
    b.conf += conf;
    b.correct += ok ? 1 : 0;
  }
  const perClass: GoldMetrics['perClass'] = {};
  for (let c = 0; c < k; c++) {
    const tp = confusion[c][c];
    let predicted = 0;
    let support = 0;
    for (let j = 0; j < k; j++) {
      predicted += confusion[j][c];
      support += confusion[c][j];
    }
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[labelNames[c]] = { precision: round(precision), recall: round(recall), f1: round(f1), support };
  }
  const ece = n ? bins.reduce((s, b) => s + (b.n ? Math.abs(b.correct / b.n - b.conf / b.n) * (b.n / n) : 0), 0) : null;
  const calibration = bins.map((b, i) => ({
    lower: i / 10,
    upper: (i + 1) / 10,
    confidence: b.n ? round(b.conf / b.n) : null,
    accuracy: b.n ? round(b.correct / b.n) : null,
    n: b.n,
  }));
  return { n, accuracy: n ? round(correct / n) : null, perClass, confusion, ece: ece === null ? null : round(ece), calibration };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
