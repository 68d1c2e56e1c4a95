/**
 * A trigram ARPA language model from corrected transcripts, with interpolated Witten-Bell smoothing.
 *
 * Why Witten-Bell and not irstlm: the study (transcription.md §5) built its domain LMs with irstlm's Witten-Bell
 * and got the learning curve it reports; interpolated Witten-Bell is exactly representable in ARPA backoff form
 * (an unseen word's interpolated probability is the history's backoff weight times the lower order), so the
 * same model can be written here in ~100 lines without a shell-out or a temp dir, and measured: 200 sentences
 * build in milliseconds (docs/speech-engine.md) against irstlm's 2 s. Witten-Bell also copes with the tiny
 * corpora of the first correction rounds, where Kneser-Ney's discounts are poorly estimated.
 *
 *   P1(w)     = (c(w) + T · 1/|V|) / (N + T)            over V = seen words ∪ {</s>, <unk>}
 *   Pn(w | h) = (c(h w) + T(h) · Pn-1(w | h')) / (c(h) + T(h)),   bow(h) = T(h) / (c(h) + T(h))
 *
 * T is the number of distinct words seen after h. `<unk>` keeps a little mass so the model normalises over an
 * open vocabulary; pocketsphinx reads it as any other word that is absent from its dictionary.
 */
import { ValidationError } from '../../core/errors.ts';
import { tokens } from './text.ts';

const BOS = '<s>';
const EOS = '</s>';
const UNK = '<unk>';

/**
 * ARPA text of an interpolated Witten-Bell trigram model of `sentences` (each normalised by `tokens`; empty ones
 * are skipped). Probabilities are log10 with 7 decimals.
 */
export function buildArpa(sentences: readonly string[]): string {
  const uni = new Map<string, number>();
  const bi = new Map<string, Map<string, number>>();
  const tri = new Map<string, Map<string, number>>();
  const bump = (m: Map<string, Map<string, number>>, h: string, w: string) => {
    let f = m.get(h);
    if (!f) {
      f = new Map();
      m.set(h, f);
    }
    f.set(w, (f.get(w) ?? 0) + 1);
  };
  for (const s of sentences) {
    const ws = tokens(s);
    if (ws.length === 0) continue;
    const seq = [BOS, ...ws, EOS];
    for (let i = 1; i < seq.length; i++) {
      uni.set(seq[i], (uni.get(seq[i]) ?? 0) + 1);
      bump(bi, seq[i - 1], seq[i]);
      if (i >= 2) bump(tri, `${seq[i - 2]} ${seq[i - 1]}`, seq[i]);
    }
  }
  if (uni.size === 0) throw new ValidationError('A language model needs at least one non-empty sentence.', undefined, 'invalid_transcript');
  const vocab = [...new Set([...uni.keys(), EOS, UNK])].sort();
  let total = 0;
  for (const c of uni.values()) total += c;
  const p1 = (w: string) => ((uni.get(w) ?? 0) + uni.size / vocab.length) / (total + uni.size);
  const witten = (followers: Map<string, number>) => {
    let c = 0;
    for (const n of followers.values()) c += n;
    return { c, t: followers.size, bow: followers.size / (c + followers.size) };
  };
  const p2 = (v: string, w: string) => {
    const f = bi.get(v);
    if (!f) return p1(w);
    const { c, t } = witten(f);
    return ((f.get(w) ?? 0) + t * p1(w)) / (c + t);
  };
  const log = (p: number) => Math.log10(p).toFixed(7);
  const bowOf = (m: Map<string, Map<string, number>>, h: string) => {
    const f = m.get(h);
    return f ? `\t${log(witten(f).bow)}` : '';
  };

  const lines1 = [`-99.0000000\t${BOS}${bowOf(bi, BOS)}`];
  for (const w of vocab) lines1.push(`${log(p1(w))}\t${w}${bowOf(bi, w)}`);
  const lines2: string[] = [];
  for (const [v, f] of [...bi].sort(byKey)) {
    const { c, t } = witten(f);
    for (const [w, n] of [...f].sort(byKey)) lines2.push(`${log((n + t * p1(w)) / (c + t))}\t${v} ${w}${bowOf(tri, `${v} ${w}`)}`);
  }
  const lines3: string[] = [];
  for (const [h, f] of [...tri].sort(byKey)) {
    const { c, t } = witten(f);
    const v = h.slice(h.indexOf(' ') + 1);
    for (const [w, n] of [...f].sort(byKey)) lines3.push(`${log((n + t * p2(v, w)) / (c + t))}\t${h} ${w}`);
  }
  return [
    '\\data\\',
    `ngram 1=${lines1.length}`,
    `ngram 2=${lines2.length}`,
    `ngram 3=${lines3.length}`,
    '',
    '\\1-grams:',
    ...lines1,
    '',
    '\\2-grams:',
    ...lines2,
    '',
    '\\3-grams:',
    ...lines3,
    '',
    '\\end\\',
    '',
  ].join('\n');
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** An ARPA model read back: log10 probabilities and backoff weights keyed by the space-joined n-gram. */
export interface ArpaModel {
  prob: Map<string, number>;
  bow: Map<string, number>;
  /** Words with a unigram entry other than `<s>`, i.e. what the model can predict. */
  vocab: string[];
}

/** Parses ARPA text (any order) into an ArpaModel; used to check what buildArpa wrote. */
export function readArpa(text: string): ArpaModel {
  const prob = new Map<string, number>();
  const bow = new Map<string, number>();
  let order = 0;
  for (const line of text.split('\n')) {
    const section = /^\\(\d)-grams:/.exec(line);
    if (section) order = Number(section[1]);
    else if (order > 0 && line.trim() !== '' && !line.startsWith('\\')) {
      const parts = line.trim().split(/\s+/);
      const gram = parts.slice(1, 1 + order).join(' ');
      prob.set(gram, Number(parts[0]));
      if (parts.length > order + 1) bow.set(gram, Number(parts[order + 1]));
    }
  }
  const vocab = [...prob.keys()].filter((g) => !g.includes(' ') && g !== BOS);
  return { prob, bow, vocab };
}

/** log10 P(word | history) by ARPA backoff; `history` is the preceding words, most recent last. */
export function arpaLogProb(model: ArpaModel, history: readonly string[], word: string): number {
  const gram = [...history, word].join(' ');
  const p = model.prob.get(gram);
  if (p !== undefined) return p;
  if (history.length === 0) return model.prob.get(UNK) ?? -99;
  return (model.bow.get(history.join(' ')) ?? 0) + arpaLogProb(model, history.slice(1), word);
}
