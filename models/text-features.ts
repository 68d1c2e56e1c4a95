/**
 * Hashed bag-of-n-grams text features: word unigrams and bigrams plus character 3-5-grams, each hashed
 * (FNV-1a, finalised with a murmur mix) into `hashDim` buckets. Counts become log(1 + tf); the word and
 * character parts are L2-normalised separately (so the far more numerous character n-grams do not drown
 * the words), summed, and the sum normalised again. No vocabulary: a model's features are fixed by hashDim.
 */

/** A sparse feature vector: bucket ids (ascending) and their values; L2 norm 1 unless empty. */
export interface SparseFeatures {
  indices: Int32Array;
  values: Float32Array;
}

/** Default bucket count: collisions cost accuracy below this, while dense batches grow linearly with it. */
export const DEFAULT_HASH_DIM = 2 ** 15;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SEED_WORD = 0x2545f491;
const SEED_BIGRAM = 0x9e3779b9;
const SEED_CHAR = 0x61c88647;
/** How much the word part counts against the character part in the final vector. */
const WORD_WEIGHT = 1;
const CHAR_WEIGHT = 1;
const WORD_RE = /[\p{L}\p{N}]+(?:'\p{L}+)?/gu;
const TAG_RE = /<[^>]{0,40}>/g;

/** murmur3's 32-bit finaliser: spreads FNV's weak low bits before taking a bucket. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function fnv(s: string, seed: number): number {
  let h = (FNV_OFFSET ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** A reusable featuriser for one bucket count (holds scratch buffers; not shared across threads). */
export interface TextFeaturizer {
  readonly hashDim: number;
  featurize(text: string): SparseFeatures;
}

/** Creates a featuriser hashing into `hashDim` buckets. */
export function createTextFeaturizer(hashDim: number = DEFAULT_HASH_DIM): TextFeaturizer {
  if (!Number.isInteger(hashDim) || hashDim < 16) throw new Error(`hashDim must be an integer >= 16, got ${hashDim}.`);
  const words = new Float32Array(hashDim);
  const chars = new Float32Array(hashDim);
  const mark = new Uint8Array(hashDim);
  let touched = new Int32Array(1024);
  let nTouched = 0;
  const bucket = (h: number): number => fmix(h) % hashDim;
  const touch = (b: number): void => {
    if (mark[b]) return;
    mark[b] = 1;
    if (nTouched === touched.length) {
      const grown = new Int32Array(touched.length * 2);
      grown.set(touched);
      touched = grown;
    }
    touched[nTouched++] = b;
  };

  return {
    hashDim,
    featurize(raw: string): SparseFeatures {
      const text = raw.toLowerCase().replace(TAG_RE, ' ');
      nTouched = 0;

      let prev = -1;
      for (const m of text.matchAll(WORD_RE)) {
        const h = fnv(m[0], SEED_WORD);
        let b = bucket(h);
        words[b] += 1;
        touch(b);
        if (prev >= 0) {
          b = bucket(Math.imul(prev ^ SEED_BIGRAM, FNV_PRIME) ^ h);
          words[b] += 1;
          touch(b);
        }
        prev = h;
      }

      // Character n-grams run over the whitespace-collapsed text padded with spaces, so word edges count.
      const s = ` ${text.replace(/\s+/g, ' ').trim()} `;
      for (let i = 0; i + 3 <= s.length; i++) {
        let h = (FNV_OFFSET ^ SEED_CHAR) >>> 0;
        for (let j = 0; j < 5 && i + j < s.length; j++) {
          h = Math.imul(h ^ s.charCodeAt(i + j), FNV_PRIME);
          if (j >= 2) {
            const b = bucket(h ^ j);
            chars[b] += 1;
            touch(b);
          }
        }
      }

      let wNorm = 0;
      let cNorm = 0;
      for (let t = 0; t < nTouched; t++) {
        const b = touched[t];
        if (words[b]) words[b] = Math.log1p(words[b]);
        if (chars[b]) chars[b] = Math.log1p(chars[b]);
        wNorm += words[b] * words[b];
        cNorm += chars[b] * chars[b];
      }
      const wScale = wNorm > 0 ? WORD_WEIGHT / Math.sqrt(wNorm) : 0;
      const cScale = cNorm > 0 ? CHAR_WEIGHT / Math.sqrt(cNorm) : 0;
      const indices = touched.slice(0, nTouched).sort();
      const values = new Float32Array(nTouched);
      let norm = 0;
      for (let t = 0; t < nTouched; t++) {
        const b = indices[t];
        const v = words[b] * wScale + chars[b] * cScale;
        values[t] = v;
        norm += v * v;
        words[b] = 0;
        chars[b] = 0;
        mark[b] = 0;
      }
      if (norm > 0) {
        const inv = 1 / Math.sqrt(norm);
        for (let t = 0; t < nTouched; t++) values[t] *= inv;
      }
      return { indices, values };
    },
  };
}
