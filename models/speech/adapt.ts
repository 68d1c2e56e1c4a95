/**
 * Adaptation: corrected transcripts → a new SpeechModel. The domain trigram LM is interpolated with the stock
 * general LM at decode time (never replaces it: unseen phrasing still decodes, transcription.md §5), and words
 * the stock dictionary lacks get espeak-ng pronunciations so the decoder can output them at all.
 */
import { ValidationError } from '../../core/errors.ts';
import { buildArpa } from './arpa.ts';
import { g2p } from './g2p.ts';
import { loadLexicon, missingWords } from './lexicon.ts';
import { buildMllr, type MllrClip } from './mllr.ts';
import type { SpeechModel } from './recognizer.ts';
import { tokens } from './text.ts';

export interface BuildSpeechModelInput {
  /** The new model's version (immutable once used). */
  version: number;
  /** Corrected transcripts, one utterance each (normalised again here; empty ones are skipped). */
  sentences: readonly string[];
  /** Weight of the domain LM against the general LM, in (0, 1); default 0.5 as measured in the study. */
  lmWeight?: number;
  /**
   * Corrected clips (audio + normalised text) for acoustic adaptation: when given, the model also gets a global
   * MLLR transform (mllr.ts; needs sphinxtrain). `workDir` is then required for sphinxtrain's scratch files.
   */
  clips?: readonly MllrClip[];
  workDir?: string;
}

/**
 * A SpeechModel from corrected transcripts: `domainArpa` from the sentences, `extraDict` for their (and the clips')
 * words that cmudict lacks, and with `clips` an MLLR transform. Words espeak-ng cannot pronounce are left out (the
 * decoder cannot output them). With no sentences and no clips the result is the stock model under the given version.
 */
export async function buildSpeechModel(input: BuildSpeechModelInput): Promise<SpeechModel> {
  const sentences = input.sentences.map((s) => tokens(s).join(' ')).filter((s) => s !== '');
  const model: SpeechModel = { version: input.version };
  if (sentences.length > 0) {
    model.domainArpa = buildArpa(sentences);
    model.lmWeight = input.lmWeight ?? 0.5;
  }
  const clipWords = (input.clips ?? []).flatMap((c) => tokens(c.text));
  const words = [...sentences.flatMap((s) => s.split(' ')), ...clipWords];
  if (words.length === 0) return model;
  const lexicon = await loadLexicon();
  const prons = await g2p(missingWords(words, lexicon));
  if (prons.size > 0) model.extraDict = [...prons].map(([word, phones]) => [word, phones.join(' ')]);
  if (input.clips?.length) {
    if (!input.workDir) throw new ValidationError('buildSpeechModel needs a workDir when clips are given (MLLR scratch space).');
    // bw cannot align a transcript word without a pronunciation: train only on clips whose words are all known.
    const known = (w: string) => lexicon.has(w) || prons.has(w);
    const clips = input.clips.filter((c) => tokens(c.text).every(known));
    if (clips.length > 0) model.mllr = await buildMllr({ clips, workDir: input.workDir, extraDict: model.extraDict });
  }
  return model;
}
