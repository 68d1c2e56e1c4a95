/**
 * Adaptation: corrected transcripts → a new SpeechModel. The domain trigram LM is interpolated with the stock
 * general LM at decode time (never replaces it: unseen phrasing still decodes, transcription.md §5), and words
 * the stock dictionary lacks get espeak-ng pronunciations so the decoder can output them at all.
 */
import { buildArpa } from './arpa.ts';
import { g2p } from './g2p.ts';
import { loadLexicon, missingWords } from './lexicon.ts';
import type { SpeechModel } from './recognizer.ts';
import { tokens } from './text.ts';

export interface BuildSpeechModelInput {
  /** The new model's version (immutable once used). */
  version: number;
  /** Corrected transcripts, one utterance each (normalised again here; empty ones are skipped). */
  sentences: readonly string[];
  /** Weight of the domain LM against the general LM, in (0, 1); default 0.5 as measured in the study. */
  lmWeight?: number;
}

/**
 * A SpeechModel from corrected transcripts: `domainArpa` from the sentences and `extraDict` for their words that
 * cmudict lacks. Words espeak-ng cannot pronounce are left out (the decoder cannot output them). With no
 * non-empty sentence the result is the stock model under the given version.
 */
export async function buildSpeechModel(input: BuildSpeechModelInput): Promise<SpeechModel> {
  const sentences = input.sentences.map((s) => tokens(s).join(' ')).filter((s) => s !== '');
  if (sentences.length === 0) return { version: input.version };
  const lexicon = await loadLexicon();
  const missing = missingWords(
    sentences.flatMap((s) => s.split(' ')),
    lexicon,
  );
  const prons = await g2p(missing);
  const model: SpeechModel = { version: input.version, domainArpa: buildArpa(sentences), lmWeight: input.lmWeight ?? 0.5 };
  if (prons.size > 0) model.extraDict = [...prons].map(([word, phones]) => [word, phones.join(' ')]);
  return model;
}
