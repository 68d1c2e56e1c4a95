/** The stock pronunciation dictionary's word set, read once per path and shared (134k words, ~3.5 MB). */
import { readFile } from 'node:fs/promises';
import { STOCK_MODEL } from './native.ts';

const cache = new Map<string, Promise<ReadonlySet<string>>>();

/**
 * Words of a cmudict-format dictionary (`word(2)` variants folded into `word`), loaded lazily and cached for
 * the life of the process: every adaptation round asks which of its words are missing.
 */
export function loadLexicon(dictPath: string = STOCK_MODEL.dict): Promise<ReadonlySet<string>> {
  let words = cache.get(dictPath);
  if (!words) {
    words = readFile(dictPath, 'utf8').then((text) => {
      const set = new Set<string>();
      for (const line of text.split('\n')) {
        const end = line.search(/[\s(]/);
        const word = end < 0 ? line : line.slice(0, end);
        if (word !== '') set.add(word);
      }
      return set;
    });
    words.catch(() => cache.delete(dictPath));
    cache.set(dictPath, words);
  }
  return words;
}

/** The distinct words of `words` that `lexicon` lacks, in first-seen order. */
export function missingWords(words: Iterable<string>, lexicon: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  for (const w of words) if (!lexicon.has(w)) out.add(w);
  return [...out];
}
