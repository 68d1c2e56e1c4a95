/**
 * Templated sentence generators for two transcription domains whose vocabulary the stock recogniser lacks
 * (farm-produce orders and pharmacy/clinic notes), and the plan that turns them into a benchmark's clips:
 * a pool to be "corrected" and a gold set, voices assigned round-robin.
 *
 * Sentences are lower case, without punctuation, numbers written as words: exactly what a reference
 * transcript looks like. Each domain holds some templates out of the pool, so the gold set measures phrasing
 * the corrections never showed (the study's 70 % seen / 30 % unseen split, docs/benchmarks-transcription.md).
 */
import { createPrng, type Prng } from '../../models/prng.ts';
import { ESPEAK_VOICES, FLITE_VOICES } from './synthesize.ts';

/** A domain: templates with `{slot}` markers, the slot values, and the words cmudict does not know. */
export interface SpeechDomain {
  name: string;
  description: string;
  /** Templates the pool and 70 % of the gold set are drawn from. */
  templates: readonly string[];
  /** Templates never used in the pool: the rest of the gold set. */
  heldOutTemplates: readonly string[];
  /** Slot name → values (each a lower case phrase). */
  slots: Readonly<Record<string, readonly string[]>>;
  /**
   * The domain's words missing from pocketsphinx's cmudict-en-us.dict, checked against the dictionary by
   * corpora.test.ts (which also checks every other word of the domain is in it).
   */
  rareWords: readonly string[];
}

const ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** 0 ≤ n ≤ 999 in words, as a reference transcript spells it: 250 → "two hundred fifty". */
export function numberWords(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 999) throw new Error(`numberWords: ${n} is not an integer in 0..999`);
  if (n < 20) return ONES[n];
  if (n < 100) return TENS[Math.floor(n / 10)] + (n % 10 ? ` ${ONES[n % 10]}` : '');
  return `${ONES[Math.floor(n / 100)]} hundred` + (n % 100 ? ` ${numberWords(n % 100)}` : '');
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => numberWords(from + i));
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** Farm-produce orders, the study's domain: rare produce names among common ones. */
export const PRODUCE: SpeechDomain = {
  name: 'produce',
  description: 'wholesale farm-produce orders phoned in by restaurants and shops',
  templates: [
    'please add {qty} {unit} of {item} to the {day} order for {customer}',
    'invoice {customer} for {qty} {unit} of {item} at {price} each',
    'we are out of {item} until {day}',
    '{customer} wants {qty} {unit} of {item} and {qty} {unit} of {item}',
    'cancel the {item} on the {day} delivery to {customer}',
    'change the {item} from {qty} to {qty} {unit}',
    'how many {unit} of {item} do we have left',
    'the {item} came in damaged so credit {customer} for {qty} {unit}',
    'put {qty} {unit} of {item} on hold for {customer}',
    'the {item} are {price} a {unitOne} this week',
    'substitute {item} for {item} on the {day} order',
    'load {qty} {unit} of {item} on the {day} truck',
  ],
  heldOutTemplates: [
    'does {customer} still take {item} or should we offer {item} instead',
    'mark the {item} as sold out and email {customer} about it',
    'our grower says the {item} harvest will be late by {few} days',
    'write down that {customer} returned {qty} {unit} of {item} yesterday',
  ],
  slots: {
    item: [
      'celeriac',
      'romanesco',
      'tatsoi',
      'shishito peppers',
      'sunchokes',
      'radicchio',
      'escarole',
      'purslane',
      'microgreens',
      'kohlrabi',
      'mizuna',
      'komatsuna',
      'jicama',
      'salsify',
      'chervil',
      'cardoons',
      'frisee',
      'celtuce',
      'puntarelle',
      'agretti',
      'broccolini',
      'kalettes',
      'fiddleheads',
      'tomatillos',
      'parsnips',
      'shallots',
      'currants',
      'kumquats',
      'persimmons',
      'pluots',
      'lychees',
      'huckleberries',
      'lingonberries',
      'mulberries',
      'shiitake mushrooms',
      'maitake mushrooms',
      'chanterelles',
      'morels',
      'enoki mushrooms',
      'cremini mushrooms',
      'edamame',
      'yuzu',
      'arugula',
      'swiss chard',
      'bok choy',
      'daikon',
      'fennel',
      'kale',
      'leeks',
      'watercress',
      'sorrel',
      'gooseberries',
      'rutabaga',
      'okra',
      'butternut squash',
      'red onions',
      'sweet potatoes',
      'carrots',
      'spinach',
      'green beans',
      'cherry tomatoes',
      'strawberries',
      'blueberries',
      'lemons',
    ],
    unit: ['crates', 'cases', 'boxes', 'bunches', 'pounds', 'flats', 'pallets', 'bags'],
    unitOne: ['crate', 'case', 'box', 'bunch', 'pound', 'flat', 'bag'],
    qty: [...range(2, 30), 'forty', 'fifty', 'sixty'],
    few: range(2, 9),
    day: DAYS,
    customer: [
      'riverside bistro',
      'the corner deli',
      'green fork cafe',
      'harbor market',
      'the golden spoon',
      'maple street grocery',
      'blue door kitchen',
      'the night market',
      'hillside school',
      'saint mary hospital',
      'copper kettle',
      'the village store',
    ],
    price: [...[20, 40, 60, 75, 90].map((c) => `${numberWords(c)} cents`), 'one dollar', ...[2, 3, 4, 5, 6, 8, 12].map((d) => `${numberWords(d)} dollars`)],
  },
  rareWords: [
    'agretti',
    'broccolini',
    'butternut',
    'cardoons',
    'celeriac',
    'celtuce',
    'chanterelles',
    'chervil',
    'cremini',
    'currants',
    'edamame',
    'enoki',
    'escarole',
    'fiddleheads',
    'frisee',
    'huckleberries',
    'jicama',
    'kalettes',
    'komatsuna',
    'kumquats',
    'lingonberries',
    'lychees',
    'maitake',
    'microgreens',
    'mizuna',
    'morels',
    'mulberries',
    'parsnips',
    'persimmons',
    'pluots',
    'puntarelle',
    'purslane',
    'radicchio',
    'romanesco',
    'salsify',
    'shallots',
    'shiitake',
    'shishito',
    'sunchokes',
    'tatsoi',
    'tomatillos',
    'yuzu',
  ],
};

/** Pharmacy calls and clinic notes: a different register, with drug names as the rare words. */
export const PHARMACY: SpeechDomain = {
  name: 'pharmacy',
  description: 'pharmacy refill calls and clinic medication notes',
  templates: [
    'refill {drug} {dose} {freq} for {patient}',
    'start {patient} on {drug} {dose} {freq}',
    'stop the {drug} and switch to {drug} {dose}',
    'dispense {count} {form} of {drug} with {few} refills',
    '{patient} is allergic to {drug}',
    'increase the {drug} to {dose} {freq}',
    'the pharmacy is out of {drug} until {day}',
    'take {drug} {dose} {freq} for {days} days',
    '{patient} called about side effects from the {drug}',
    'check whether {drug} interacts with {drug}',
    'hold the {drug} before surgery on {day}',
    '{doctor} approved {drug} {dose} {freq}',
  ],
  heldOutTemplates: [
    'please ask {doctor} if {patient} can take {drug} with food',
    'the insurance will not cover {drug} so we need a prior authorization',
    '{patient} missed {few} doses of {drug} last week',
    'note that the {drug} made {patient} dizzy and sleepy',
  ],
  slots: {
    drug: [
      'metformin',
      'lisinopril',
      'atorvastatin',
      'amlodipine',
      'omeprazole',
      'levothyroxine',
      'gabapentin',
      'sertraline',
      'losartan',
      'simvastatin',
      'montelukast',
      'escitalopram',
      'rosuvastatin',
      'pantoprazole',
      'furosemide',
      'tramadol',
      'prednisone',
      'azithromycin',
      'ciprofloxacin',
      'doxycycline',
      'cephalexin',
      'clopidogrel',
      'warfarin',
      'apixaban',
      'glipizide',
      'tamsulosin',
      'fluoxetine',
      'bupropion',
      'trazodone',
      'duloxetine',
      'quetiapine',
      'lamotrigine',
      'topiramate',
      'zolpidem',
      'lorazepam',
      'naproxen',
      'fluticasone',
      'cetirizine',
      'loratadine',
      'ondansetron',
      'meloxicam',
      'allopurinol',
      'spironolactone',
      'carvedilol',
      'metoprolol',
      'propranolol',
      'ibuprofen',
      'amoxicillin',
      'insulin',
      'aspirin',
      'albuterol',
      'penicillin',
      'acetaminophen',
      'colchicine',
      'methotrexate',
      'morphine',
    ],
    dose: [
      ...[1, 2, 5, 10, 20, 25, 40, 50, 75, 100, 250, 500].map((m) => `${numberWords(m)} milligrams`),
      ...[25, 50, 88, 112].map((m) => `${numberWords(m)} micrograms`),
    ],
    freq: ['once daily', 'twice daily', 'every morning', 'at bedtime', 'every eight hours', 'every twelve hours', 'as needed for pain', 'with meals'],
    form: ['tablets', 'capsules'],
    count: ['thirty', 'sixty', 'ninety', 'twenty', 'fourteen', 'one hundred eighty'],
    few: range(1, 5),
    days: ['five', 'seven', 'ten', 'fourteen', 'thirty'],
    day: DAYS,
    patient: [
      'mister brown',
      'miss garcia',
      'mister nguyen',
      'missus patel',
      'mister johnson',
      'miss kim',
      'missus lopez',
      'mister chen',
      'the patient in room four',
      'the patient in room twelve',
      'the baby in bed two',
      'missus rossi',
    ],
    doctor: ['doctor adams', 'doctor lee', 'doctor morgan', 'doctor shah', 'the nurse practitioner', 'the on call doctor'],
  },
  rareWords: [
    'allopurinol',
    'amlodipine',
    'apixaban',
    'atorvastatin',
    'azithromycin',
    'bupropion',
    'carvedilol',
    'cephalexin',
    'cetirizine',
    'ciprofloxacin',
    'clopidogrel',
    'doxycycline',
    'duloxetine',
    'escitalopram',
    'fluoxetine',
    'fluticasone',
    'furosemide',
    'gabapentin',
    'glipizide',
    'lamotrigine',
    'levothyroxine',
    'lisinopril',
    'loratadine',
    'lorazepam',
    'losartan',
    'meloxicam',
    'metformin',
    'metoprolol',
    'montelukast',
    'naproxen',
    'omeprazole',
    'ondansetron',
    'pantoprazole',
    'prednisone',
    'propranolol',
    'quetiapine',
    'rosuvastatin',
    'sertraline',
    'simvastatin',
    'spironolactone',
    'tamsulosin',
    'topiramate',
    'tramadol',
    'trazodone',
    'warfarin',
    'zolpidem',
  ],
};

/** Every domain, by name. */
export const SPEECH_DOMAINS: Readonly<Record<string, SpeechDomain>> = { produce: PRODUCE, pharmacy: PHARMACY };

/** @throws Error naming the known domains. */
export function findDomain(name: string): SpeechDomain {
  const d = SPEECH_DOMAINS[name];
  if (!d) throw new Error(`unknown speech domain ${JSON.stringify(name)} (known: ${Object.keys(SPEECH_DOMAINS).join(', ')})`);
  return d;
}

/** Every distinct word the domain can produce, sorted. */
export function domainVocabulary(domain: SpeechDomain): string[] {
  const words = new Set<string>();
  for (const t of [...domain.templates, ...domain.heldOutTemplates]) {
    for (const w of t.replace(/\{\w+\}/g, ' ').split(/\s+/)) if (w) words.add(w);
  }
  for (const values of Object.values(domain.slots)) for (const v of values) for (const w of v.split(/\s+/)) words.add(w);
  return [...words].sort();
}

/**
 * One sentence from `template`: each `{slot}` filled at random; a slot used twice gets two different values
 * ("substitute tatsoi for mizuna"), so no sentence repeats itself.
 * @throws Error for a slot the domain does not define.
 */
export function renderTemplate(domain: SpeechDomain, template: string, prng: Prng): string {
  const used = new Map<string, Set<string>>();
  return template.replace(/\{(\w+)\}/g, (_, slot: string) => {
    const values = domain.slots[slot];
    if (!values?.length) throw new Error(`${domain.name}: template uses unknown slot {${slot}}`);
    const taken = used.get(slot) ?? new Set<string>();
    const free = values.filter((v) => !taken.has(v));
    const v = (free.length ? free : values)[prng.int(free.length ? free.length : values.length)];
    used.set(slot, taken.add(v));
    return v;
  });
}

/** A sentence of a benchmark split. */
export interface DomainSentence {
  text: string;
  /** `seen-<i>` or `heldout-<i>`: the template's index in {@link SpeechDomain.templates} or `heldOutTemplates`. */
  template: string;
  heldOut: boolean;
}

/**
 * Distinct sentences: `pool` from the seen templates, and a gold set of `goldSeen` from the seen templates plus
 * `goldUnseen` from the held-out ones, none of them equal to a pool sentence. Templates are used round-robin (each
 * about equally often), then each list is shuffled, so any prefix is a random sample. Seeded.
 */
export function domainSentences(
  domain: SpeechDomain,
  opts: { pool: number; goldSeen: number; goldUnseen: number; seed: number },
): { pool: DomainSentence[]; gold: DomainSentence[] } {
  const prng = createPrng(opts.seed);
  const seen = new Set<string>();
  const draw = (templates: readonly string[], heldOut: boolean, count: number): DomainSentence[] => {
    const out: DomainSentence[] = [];
    for (let i = 0, tries = 0; out.length < count; tries++) {
      if (tries > count * 200) throw new Error(`${domain.name}: cannot draw ${count} distinct sentences`);
      const t = i % templates.length;
      const text = renderTemplate(domain, templates[t], prng);
      if (seen.has(text)) continue;
      seen.add(text);
      out.push({ text, template: `${heldOut ? 'heldout' : 'seen'}-${t}`, heldOut });
      i++;
    }
    return prng.shuffle(out);
  };
  const pool = draw(domain.templates, false, opts.pool);
  const gold = prng.shuffle([...draw(domain.templates, false, opts.goldSeen), ...draw(domain.heldOutTemplates, true, opts.goldUnseen)]);
  return { pool, gold };
}

/** The acoustic condition of a clip: an espeak-ng formant voice, a clean flite voice, or a flite voice with noise. */
export type VoiceCondition = 'espeak' | 'flite' | 'flite-noisy';

/** One clip to synthesise. */
export interface ClipPlan extends DomainSentence {
  /** `<domain>-<split>-<index, 4 digits>`. */
  id: string;
  split: 'pool' | 'gold';
  voice: string;
  /** SNR in dB of the added white noise; absent for clean clips. */
  noiseDb?: number;
  condition: VoiceCondition;
}

/** Noise levels of the noisy flite clips (the study's). */
export const NOISE_DB = [30, 25] as const;

/** The pool's voice rotation: four espeak-ng voices, four clean flite voices, the four flite voices with noise. */
export const POOL_VOICES: readonly { voice: string; noiseDb?: number; condition: VoiceCondition }[] = [
  ...ESPEAK_VOICES.map((voice) => ({ voice, condition: 'espeak' as const })),
  ...FLITE_VOICES.map((voice) => ({ voice, condition: 'flite' as const })),
  ...FLITE_VOICES.map((voice, i) => ({ voice, noiseDb: NOISE_DB[i % 2], condition: 'flite-noisy' as const })),
];

/**
 * The clips of one domain's benchmark: each pool sentence once, voices round-robin over {@link POOL_VOICES}
 * (interleaved so that consecutive clips differ in condition); each gold sentence three times, one espeak-ng, one
 * clean flite and one noisy flite clip, voices round-robin within each condition and the noisy clip in another
 * voice than the clean one. Pool and gold ids are numbered in order; the gold clips of sentence k are 3k..3k+2.
 */
export function planDomainClips(domain: SpeechDomain, opts: { pool: number; goldSeen: number; goldUnseen: number; seed: number }): ClipPlan[] {
  const { pool, gold } = domainSentences(domain, opts);
  const id = (split: string, i: number) => `${domain.name}-${split}-${String(i).padStart(4, '0')}`;
  // Interleave the rotation (espeak, flite, noisy, espeak, ...) so a short prefix still mixes conditions.
  const rotation = [0, 1, 2, 3].flatMap((k) => [POOL_VOICES[k], POOL_VOICES[4 + k], POOL_VOICES[8 + ((k + 1) % 4)]]);
  const clips: ClipPlan[] = pool.map((s, i) => ({ ...s, id: id('pool', i), split: 'pool', ...rotation[i % rotation.length] }));
  gold.forEach((s, k) => {
    const noisyVoice = FLITE_VOICES[(k + 2) % FLITE_VOICES.length];
    const noiseDb = NOISE_DB[Math.floor(k / FLITE_VOICES.length) % NOISE_DB.length];
    clips.push(
      { ...s, id: id('gold', 3 * k), split: 'gold', voice: ESPEAK_VOICES[k % ESPEAK_VOICES.length], condition: 'espeak' },
      { ...s, id: id('gold', 3 * k + 1), split: 'gold', voice: FLITE_VOICES[k % FLITE_VOICES.length], condition: 'flite' },
      { ...s, id: id('gold', 3 * k + 2), split: 'gold', voice: noisyVoice, noiseDb, condition: 'flite-noisy' },
    );
  });
  return clips;
}
