/**
 * Parsers for the Debian sources the model benchmark builds its tasks from (scripts/bench-data.ts): WordNet
 * `data.noun` synset lines, `apropos`/`whatis` lines, and GNU gettext `.mo` catalogues. Pure functions on
 * strings and bytes, so they are tested on inline samples without the Debian packages installed.
 */

/** WordNet 3.0 noun lexicographer files by number (wndb(5), lexnames(5)): 03..28. */
export const WORDNET_NOUN_LEXNAMES: Record<number, string> = {
  3: 'noun.Tops',
  4: 'noun.act',
  5: 'noun.animal',
  6: 'noun.artifact',
  7: 'noun.attribute',
  8: 'noun.body',
  9: 'noun.cognition',
  10: 'noun.communication',
  11: 'noun.event',
  12: 'noun.feeling',
  13: 'noun.food',
  14: 'noun.group',
  15: 'noun.location',
  16: 'noun.motive',
  17: 'noun.object',
  18: 'noun.person',
  19: 'noun.phenomenon',
  20: 'noun.plant',
  21: 'noun.possession',
  22: 'noun.process',
  23: 'noun.quantity',
  24: 'noun.relation',
  25: 'noun.shape',
  26: 'noun.state',
  27: 'noun.substance',
  28: 'noun.time',
};

export interface WordnetSynset {
  offset: string;
  lexFile: string;
  words: string[];
  gloss: string;
}

/**
 * One line of `data.noun`: `offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...] | gloss`.
 * Returns null for the licence header (lines starting with spaces), blank lines, and lines that do not fit.
 */
export function parseWordnetDataLine(line: string): WordnetSynset | null {
  if (!/^\d{8} /.test(line)) return null;
  const bar = line.indexOf(' | ');
  if (bar < 0) return null;
  const fields = line.slice(0, bar).split(' ');
  const lexNum = Number(fields[1]);
  const lexFile = WORDNET_NOUN_LEXNAMES[lexNum];
  if (!lexFile || fields[2] !== 'n') return null;
  const wCnt = Number.parseInt(fields[3], 16);
  if (!Number.isFinite(wCnt) || wCnt < 1) return null;
  const words: string[] = [];
  for (let i = 0; i < wCnt; i++) {
    const w = fields[4 + 2 * i];
    if (w === undefined) return null;
    words.push(w.replace(/\(.*\)$/, '').replace(/_/g, ' '));
  }
  const gloss = line.slice(bar + 3).trim();
  if (!gloss) return null;
  return { offset: fields[0], lexFile, words, gloss };
}

export interface ManpageEntry {
  names: string;
  /** The section as written, e.g. `1`, `3pm`, `1ssl`. */
  section: string;
  /** The main section: its first character (`3pm` -> `3`). */
  mainSection: string;
  description: string;
}

/**
 * One `apropos`/`whatis` line: `name[, name...] (section)   - description`. Returns null for anything else
 * (such as `whatis`'s "nothing appropriate" messages).
 */
export function parseWhatisLine(line: string): ManpageEntry | null {
  const m = /^(\S.*?) \(([0-9a-zA-Z]+)\)\s+- (.+)$/.exec(line.trimEnd());
  if (!m) return null;
  const description = m[3].trim();
  if (!description) return null;
  return { names: m[1].trim(), section: m[2], mainSection: m[2][0], description };
}

export interface MoMessage {
  /** The source string (the msgctxt prefix, if any, removed; the first form of a plural). */
  id: string;
  /** The translation (the first plural form). */
  str: string;
}

/**
 * Reads a GNU gettext binary catalogue (`.mo`, either byte order): every translated message but the header
 * (empty msgid). Plural entries give their first forms; a `msgctxt` (before `\x04`) is dropped.
 * @throws Error if the magic number or the tables do not fit the data.
 */
export function parseMoFile(bytes: Uint8Array): MoMessage[] {
  if (bytes.length < 28) throw new Error('not a .mo file: too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicLe = view.getUint32(0, true);
  let le: boolean;
  if (magicLe === 0x950412de) le = true;
  else if (view.getUint32(0, false) === 0x950412de) le = false;
  else throw new Error('not a .mo file: bad magic number');
  const n = view.getUint32(8, le);
  const origTable = view.getUint32(12, le);
  const transTable = view.getUint32(16, le);
  if (origTable + 8 * n > bytes.length || transTable + 8 * n > bytes.length) throw new Error('.mo tables run past the end of the file');
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const read = (table: number, i: number): string => {
    const len = view.getUint32(table + 8 * i, le);
    const off = view.getUint32(table + 8 * i + 4, le);
    if (off + len > bytes.length) throw new Error('.mo string runs past the end of the file');
    return decoder.decode(bytes.subarray(off, off + len));
  };
  const out: MoMessage[] = [];
  for (let i = 0; i < n; i++) {
    let id = read(origTable, i);
    if (id === '') continue;
    const ctx = id.indexOf('\x04');
    if (ctx >= 0) id = id.slice(ctx + 1);
    id = id.split('\0')[0];
    const str = read(transTable, i).split('\0')[0];
    if (str) out.push({ id, str });
  }
  return out;
}

/**
 * A translated UI message as a sentence for language identification, or null if it is not one: keyboard
 * mnemonics (`_`, `&`) and printf/brace format specifiers removed, whitespace collapsed; at least 4 words of
 * letters and at most 200 characters, and not a copy of its English source.
 */
export function cleanMessage(id: string, str: string): string | null {
  const clean = (s: string) =>
    s
      .replace(/%(\d+\$)?[-+ #0]*\d*(\.\d+)?(l|ll|h|z|j|t|L)?[diouxXeEfgGcspn%]/g, ' ')
      .replace(/\{[^}]*\}|\$\{[^}]*\}|<[^>]+>/g, ' ')
      .replace(/[_&](?=\p{L})/gu, '')
      .replace(/\s+/g, ' ')
      .trim();
  const text = clean(str);
  if (text.length > 200 || text === clean(id)) return null;
  const words = text.split(' ').filter((w) => /\p{L}{2,}/u.test(w));
  return words.length >= 4 ? text : null;
}

const COLOUR_WORDS = new Set(
  'adwaita black blue bluegrey breeze brown carmine custom cyan darkcyan deeporange green grey indigo magenta nordic orange palebrown paleorange pink red teal violet white yaru yellow'.split(
    ' ',
  ),
);

/** The name an icon is deduplicated by: no extension, no `-symbolic`, no Papirus folder colour. */
export function iconKey(file: string): string {
  return (file.split('/').pop() ?? file)
    .replace(/\.(svg|png)$/, '')
    .replace(/-symbolic$/, '')
    .toLowerCase()
    .split('-')
    .filter((t) => !COLOUR_WORDS.has(t))
    .join('-');
}
