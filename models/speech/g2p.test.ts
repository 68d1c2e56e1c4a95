import { describe, expect, it } from 'vitest';
import { espeakToArpabet, g2p, g2pAvailable } from './g2p.ts';
import { loadLexicon, missingWords } from './lexicon.ts';
import { speechEngineAvailable } from './native.ts';

describe('espeakToArpabet', () => {
  it('maps espeak-ng mnemonics to ARPAbet, dropping stress, syllable marks and pauses', () => {
    expect(espeakToArpabet("s E l 'i@3 r i ; ,a k")).toEqual('S EH L IH R IY AE K'.split(' '));
    expect(espeakToArpabet("t 'a t s OI")).toEqual('T AE T S OY'.split(' '));
    expect(espeakToArpabet("s 'V n tS oU k s _")).toEqual('S AH N CH OW K S'.split(' '));
  });

  it('drops a linking r after an r-coloured vowel and skips unknown mnemonics', () => {
    expect(espeakToArpabet("f '3: r @ n")).toEqual(['F', 'ER', 'AH', 'N']);
    expect(espeakToArpabet('b ~~ i:')).toEqual(['B', 'IY']);
  });
});

describe.skipIf(!g2pAvailable())('g2p (espeak-ng)', () => {
  it('pronounces a batch in one call, each word its own line', async () => {
    const prons = await g2p(['celeriac', 'tatsoi', 'sunchokes', 'tatsoi', 'r2d2']);
    expect([...prons.keys()]).toEqual(['celeriac', 'tatsoi', 'sunchokes']); // deduplicated; non-words skipped
    expect(prons.get('celeriac')).toEqual('S EH L IH R IY AE K'.split(' '));
    expect(prons.get('tatsoi')).toEqual('T AE T S OY'.split(' '));
  });

  it('a batch gives the same pronunciations as single calls', async () => {
    const words = ['romanesco', 'shishito', 'microgreens', "don't", 'purslane'];
    const batch = await g2p(words);
    for (const w of words) expect(batch.get(w), w).toEqual((await g2p([w])).get(w));
  });
});

describe.skipIf(!speechEngineAvailable())('lexicon', () => {
  it('loads the stock dictionary once and finds the words it lacks', async () => {
    const a = loadLexicon();
    expect(loadLexicon()).toBe(a);
    const lex = await a;
    expect(lex.size).toBeGreaterThan(100_000);
    expect(lex.has('consider')).toBe(true);
    expect(missingWords(['please', 'add', 'celeriac', 'tatsoi', 'celeriac'], lex)).toEqual(['celeriac', 'tatsoi']);
  });
});
