/**
 * Pronunciations for words the stock dictionary lacks: espeak-ng's phoneme mnemonics (`-x`) mapped onto the CMU
 * ARPAbet of the pocketsphinx en-us model (transcription.md, Appendix B; PER 11 % against cmudict).
 */
import { spawn, spawnSync } from 'node:child_process';
import { SpeechEngineUnavailableError } from '../../core/errors.ts';

/** espeak-ng en-us mnemonic → ARPAbet phones ('' = drop, e.g. the glottal stop). */
export const ESPEAK_TO_ARPABET: Readonly<Record<string, string>> = {
  // vowels
  a: 'AE',
  'a#': 'AH',
  aa: 'AE',
  'A:': 'AA',
  'A@': 'AA R',
  A: 'AA',
  '0': 'AA',
  aI: 'AY',
  'aI@': 'AY ER',
  aI3: 'AY ER',
  aU: 'AW',
  'aU@': 'AW ER',
  '@': 'AH',
  '@2': 'AH',
  '@5': 'AH',
  '@L': 'AH L',
  '@r': 'ER',
  '3:': 'ER',
  '3': 'ER',
  E: 'EH',
  E2: 'EH',
  'e@': 'EH R',
  eI: 'EY',
  i: 'IY',
  'i:': 'IY',
  I: 'IH',
  I2: 'IH',
  'I#': 'IH',
  'i@': 'IY AH',
  'i@3': 'IH R',
  'O:': 'AO',
  O: 'AO',
  'O@': 'AO R',
  'o@': 'AO R',
  oU: 'OW',
  'oU#': 'OW',
  OI: 'OY',
  O2: 'AO',
  U: 'UH',
  'u:': 'UW',
  'U@': 'UH R',
  V: 'AH',
  u: 'UW',
  e: 'EH',
  o: 'OW',
  a2: 'AH',
  IR: 'IH R',
  VR: 'ER',
  // consonants
  p: 'P',
  b: 'B',
  t: 'T',
  d: 'D',
  k: 'K',
  g: 'G',
  f: 'F',
  v: 'V',
  T: 'TH',
  D: 'DH',
  s: 'S',
  z: 'Z',
  S: 'SH',
  Z: 'ZH',
  h: 'HH',
  m: 'M',
  n: 'N',
  N: 'NG',
  l: 'L',
  r: 'R',
  w: 'W',
  j: 'Y',
  tS: 'CH',
  dZ: 'JH',
  't#': 'T',
  'd#': 'D',
  'n-': 'N',
  'l-': 'L',
  'r-': 'R',
  'm-': 'M',
  x: 'K',
  W: 'W',
  C: 'HH',
  '?': '',
};

const PAUSES = new Set(['_', '_:', '_!', '||', '|']);

/**
 * ARPAbet phones of one line of `espeak-ng -x --sep=' '` output. Stress and syllable marks are dropped; an
 * unknown mnemonic is skipped (its word just gets a shorter pronunciation). A linking `R` after `R`/`ER` is
 * dropped because espeak writes r-colouring and the linking r separately.
 */
export function espeakToArpabet(mnemonics: string): string[] {
  const phones: string[] = [];
  for (const raw of mnemonics.trim().split(/\s+/)) {
    const tok = raw.replace(/^[',=%]+/, '').replace(/;+$/, '');
    if (tok === '' || PAUSES.has(tok)) continue;
    const mapped = ESPEAK_TO_ARPABET[tok] ?? ESPEAK_TO_ARPABET[tok.replace(/[:#]+$/, '')];
    if (mapped === undefined || mapped === '') continue;
    for (const ph of mapped.split(' ')) {
      const last = phones[phones.length - 1];
      if (ph === 'R' && (last === 'R' || last === 'ER')) continue;
      phones.push(ph);
    }
  }
  return phones;
}

/** Whether espeak-ng is on PATH (a cheap synchronous probe). */
export function g2pAvailable(): boolean {
  return spawnSync('espeak-ng', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Pronunciations (ARPAbet phones) of `words` (normalised, [a-z']) from one espeak-ng call, one word a line
 * (a batch of 100 words costs about as much as one: docs/speech-engine.md). Words espeak gives no phones
 * for are left out of the map. Rejects with SpeechEngineUnavailableError when espeak-ng is missing.
 */
export async function g2p(words: readonly string[]): Promise<Map<string, string[]>> {
  const unique = [...new Set(words)].filter((w) => /^[a-z']+$/.test(w));
  const out = new Map<string, string[]>();
  if (unique.length === 0) return out;
  let lines = await espeak(unique.join('\n'));
  // espeak ends a clause at each newline, so lines pair up with words; if it ever merges two, ask word by word.
  if (lines.length !== unique.length) lines = await Promise.all(unique.map(async (w) => (await espeak(w)).join(' ')));
  unique.forEach((w, i) => {
    const phones = espeakToArpabet(lines[i]);
    if (phones.length > 0) out.set(w, phones);
  });
  return out;
}

function espeak(input: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('espeak-ng', ['-v', 'en-us', '-q', '-x', '--sep= '], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => reject(new SpeechEngineUnavailableError(`espeak-ng could not run (${err.message}); install it: apt-get install espeak-ng`)));
    child.on('close', (code) => {
      if (code !== 0) reject(new SpeechEngineUnavailableError(`espeak-ng failed (exit ${code}): ${stderr.slice(0, 300)}`));
      else resolve(stdout.split('\n').filter((l) => l.trim() !== ''));
    });
    child.stdin.end(`${input}\n`);
  });
}
