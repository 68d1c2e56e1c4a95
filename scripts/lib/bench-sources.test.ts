import { describe, expect, it } from 'vitest';
import { cleanMessage, iconKey, parseMoFile, parseWhatisLine, parseWordnetDataLine } from './bench-sources.ts';

describe('WordNet data.noun lines', () => {
  it('reads the lexicographer file from the second field and the gloss after the bar', () => {
    const line =
      '02084071 05 n 02 dog 0 domestic_dog 0 042 @ 02083346 n 0000 | a member of the genus Canis (probably descended from the common wolf); "the dog barked all night"  ';
    expect(parseWordnetDataLine(line)).toEqual({
      offset: '02084071',
      lexFile: 'noun.animal',
      words: ['dog', 'domestic dog'],
      gloss: 'a member of the genus Canis (probably descended from the common wolf); "the dog barked all night"',
    });
  });

  it('reads a hexadecimal word count and strips adjective markers', () => {
    const line = '09999999 18 n 0a a 0 b 0 c 0 d 0 e 0 f 0 g 0 h 0 i 0 j(p) 0 000 | ten names';
    const s = parseWordnetDataLine(line)!;
    expect(s.lexFile).toBe('noun.person');
    expect(s.words).toHaveLength(10);
    expect(s.words[9]).toBe('j');
  });

  it('skips the licence header, blank lines, unknown lexicographer files and lines without a gloss', () => {
    expect(parseWordnetDataLine('  1 This software and database is being provided to you, the LICENSEE, by  ')).toBeNull();
    expect(parseWordnetDataLine('')).toBeNull();
    expect(parseWordnetDataLine('00001740 44 n 01 entity 0 000 | no such lexicographer file')).toBeNull();
    expect(parseWordnetDataLine('00001740 03 n 01 entity 0 000')).toBeNull();
  });
});

describe('whatis / apropos lines', () => {
  it('splits names, section and description, and takes the main section from the first character', () => {
    expect(parseWhatisLine('ls (1)               - list directory contents')).toEqual({
      names: 'ls',
      section: '1',
      mainSection: '1',
      description: 'list directory contents',
    });
    expect(parseWhatisLine('Clone (3pm)          - recursively copy Perl datatypes')).toMatchObject({ section: '3pm', mainSection: '3' });
    expect(parseWhatisLine('getpid, getppid (2)  - get process identification')).toMatchObject({
      names: 'getpid, getppid',
      mainSection: '2',
      description: 'get process identification',
    });
    expect(parseWhatisLine('x (1) - a - dash inside')).toMatchObject({ description: 'a - dash inside' });
  });

  it('refuses lines that are not whatis entries', () => {
    expect(parseWhatisLine('.: nothing appropriate.')).toBeNull();
    expect(parseWhatisLine('')).toBeNull();
    expect(parseWhatisLine('ls (1)')).toBeNull();
  });
});

/** A little-endian .mo catalogue of the given (msgid, msgstr) pairs, laid out as msgfmt does. */
function moFile(pairs: [string, string][], bigEndian = false): Uint8Array {
  const enc = new TextEncoder();
  const n = pairs.length;
  const headerSize = 28;
  const origTable = headerSize;
  const transTable = origTable + 8 * n;
  let offset = transTable + 8 * n;
  const strings: Uint8Array[] = [];
  const entries: [number, number][][] = [[], []];
  for (const col of [0, 1]) {
    for (const p of pairs) {
      const b = enc.encode(p[col]);
      entries[col].push([b.length, offset]);
      strings.push(b, new Uint8Array([0]));
      offset += b.length + 1;
    }
  }
  const out = new Uint8Array(offset);
  const v = new DataView(out.buffer);
  const le = !bigEndian;
  v.setUint32(0, 0x950412de, le);
  v.setUint32(4, 0, le);
  v.setUint32(8, n, le);
  v.setUint32(12, origTable, le);
  v.setUint32(16, transTable, le);
  entries.forEach((col, c) =>
    col.forEach(([len, off], i) => {
      v.setUint32((c === 0 ? origTable : transTable) + 8 * i, len, le);
      v.setUint32((c === 0 ? origTable : transTable) + 8 * i + 4, off, le);
    }),
  );
  let p = transTable + 8 * n;
  for (const s of strings) {
    out.set(s, p);
    p += s.length;
  }
  return out;
}

describe('gettext .mo catalogues', () => {
  const pairs: [string, string][] = [
    ['', 'Content-Type: text/plain; charset=UTF-8\n'],
    ['Could not open file %s', 'Datei %s konnte nicht geöffnet werden'],
    ['menu\x04_Open the file now', '_Öffne die Datei jetzt'],
    ['One file\0%d files', 'Eine Datei\0%d Dateien'],
  ];

  it('reads every translation but the header, in either byte order, dropping contexts and plural forms', () => {
    const expected = [
      { id: 'Could not open file %s', str: 'Datei %s konnte nicht geöffnet werden' },
      { id: '_Open the file now', str: '_Öffne die Datei jetzt' },
      { id: 'One file', str: 'Eine Datei' },
    ];
    expect(parseMoFile(moFile(pairs))).toEqual(expected);
    expect(parseMoFile(moFile(pairs, true))).toEqual(expected);
  });

  it('refuses a file with a bad magic number or tables past its end', () => {
    const bad = moFile(pairs);
    bad[0] = 0;
    expect(() => parseMoFile(bad)).toThrow(/magic/);
    const short = moFile(pairs).slice(0, 40);
    expect(() => parseMoFile(short)).toThrow(/past the end/);
  });

  it('turns a translation into a sentence: placeholders and mnemonics out, short or untranslated ones refused', () => {
    expect(cleanMessage('Could not open file %s', 'Datei %s konnte nicht geöffnet werden')).toBe('Datei konnte nicht geöffnet werden');
    expect(cleanMessage('_Open the file now', '_Öffne die Datei jetzt')).toBe('Öffne die Datei jetzt');
    expect(cleanMessage('Save {name} as <b>%1$s</b> now please', 'Enregistrer {name} sous <b>%1$s</b> maintenant, merci')).toBe(
      'Enregistrer sous maintenant, merci',
    );
    expect(cleanMessage('One file', 'Eine Datei')).toBeNull();
    expect(cleanMessage('Read the manual page first', 'Read the manual page first')).toBeNull();
  });
});

describe('icon names', () => {
  it('dedupes across themes, sizes, symbolic variants and Papirus folder colours', () => {
    expect(iconKey('/usr/share/icons/Adwaita/16x16/places/folder-music-symbolic.svg')).toBe('folder-music');
    expect(iconKey('/usr/share/icons/Papirus/48x48/places/folder-blue-music.svg')).toBe('folder-music');
    expect(iconKey('/usr/share/icons/Papirus/48x48/places/folder-deeporange-music.svg')).toBe('folder-music');
    expect(iconKey('/usr/share/icons/hicolor/48x48/apps/Firefox.png')).toBe('firefox');
  });
});
