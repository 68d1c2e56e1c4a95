import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../models/prng.ts';
import { domainSentences, domainVocabulary, numberWords, planDomainClips, renderTemplate, SPEECH_DOMAINS } from './corpora.ts';

const CMUDICT = '/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict';
const hasDict = fs.existsSync(CMUDICT);
const OPTS = { pool: 240, goldSeen: 70, goldUnseen: 30, seed: 11 };

describe('numberWords', () => {
  it('spells numbers the way references are written', () => {
    expect([0, 7, 13, 20, 42, 100, 250, 999].map(numberWords)).toEqual([
      'zero',
      'seven',
      'thirteen',
      'twenty',
      'forty two',
      'one hundred',
      'two hundred fifty',
      'nine hundred ninety nine',
    ]);
    expect(() => numberWords(1000)).toThrow();
    expect(() => numberWords(2.5)).toThrow();
  });
});

describe.each(Object.values(SPEECH_DOMAINS))('domain $name', (domain) => {
  it('renders every template with known slots, lower case words only', () => {
    const prng = createPrng(1);
    for (const t of [...domain.templates, ...domain.heldOutTemplates]) {
      const s = renderTemplate(domain, t, prng);
      expect(s).toMatch(/^[a-z]+( [a-z]+)*$/);
    }
    expect(() => renderTemplate(domain, 'a {nope}', prng)).toThrow(/unknown slot/);
  });

  it('a slot used twice in one sentence gets two values', () => {
    const t = domain.templates.find((x) => (x.match(/\{(\w+)\}/g) ?? []).some((s, i, all) => all.indexOf(s) !== i))!;
    expect(t).toBeDefined();
    const slot = t
      .match(/\{(\w+)\}/g)!
      .find((s, i, all) => all.indexOf(s) !== i)!
      .slice(1, -1);
    const prng = createPrng(3);
    for (let i = 0; i < 50; i++) {
      const values = domain.slots[slot];
      const s = renderTemplate(domain, `{${slot}} and {${slot}}`, prng);
      const [a, b] = [values.find((v) => s.startsWith(`${v} and `)), values.find((v) => s.endsWith(` and ${v}`))];
      expect(a).toBeDefined();
      expect(a).not.toBe(b);
    }
  });

  it.skipIf(!hasDict)('rareWords are exactly the words cmudict lacks (read from the dictionary)', () => {
    const dict = new Set(
      fs
        .readFileSync(CMUDICT, 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[0])
        .filter((w) => w && !w.includes('(')),
    );
    const vocab = domainVocabulary(domain);
    const missing = vocab.filter((w) => !dict.has(w));
    expect(missing).toEqual([...domain.rareWords].sort());
    expect(missing.length).toBeGreaterThanOrEqual(30);
  });

  it('splits: distinct sentences, pool from seen templates only, gold 70 seen + 30 held out, none in the pool', () => {
    const { pool, gold } = domainSentences(domain, OPTS);
    expect(pool).toHaveLength(240);
    expect(gold).toHaveLength(100);
    const texts = [...pool, ...gold].map((s) => s.text);
    expect(new Set(texts).size).toBe(texts.length);
    expect(pool.every((s) => !s.heldOut && s.template.startsWith('seen-'))).toBe(true);
    expect(gold.filter((s) => s.heldOut)).toHaveLength(30);
    expect(gold.filter((s) => s.heldOut).every((s) => s.template.startsWith('heldout-'))).toBe(true);
    // Round-robin templates: each seen template 20 times in the 240-sentence pool.
    const perTemplate = new Map<string, number>();
    for (const s of pool) perTemplate.set(s.template, (perTemplate.get(s.template) ?? 0) + 1);
    expect([...perTemplate.values()]).toEqual(Array(domain.templates.length).fill(240 / domain.templates.length));
    // Shuffled: the first 24 sentences are not the templates in order.
    expect(pool.slice(0, 12).map((s) => s.template)).not.toEqual(domain.templates.map((_, i) => `seen-${i}`));
    expect(domainSentences(domain, OPTS)).toEqual({ pool, gold });
    expect(domainSentences(domain, { ...OPTS, seed: 12 }).pool[0].text).not.toBe(pool[0].text);
  });

  it('the pool covers most rare words, so corrections can teach them', () => {
    const { pool } = domainSentences(domain, OPTS);
    const words = new Set(pool.flatMap((s) => s.text.split(' ')));
    expect(domain.rareWords.filter((w) => words.has(w)).length / domain.rareWords.length).toBeGreaterThan(0.9);
  });
});

describe('planDomainClips', () => {
  const domain = SPEECH_DOMAINS.produce;
  const clips = planDomainClips(domain, OPTS);
  const pool = clips.filter((c) => c.split === 'pool');
  const gold = clips.filter((c) => c.split === 'gold');

  it('one clip per pool sentence, conditions balanced and interleaved', () => {
    expect(pool).toHaveLength(240);
    const by = (c: string) => pool.filter((p) => p.condition === c).length;
    expect([by('espeak'), by('flite'), by('flite-noisy')]).toEqual([80, 80, 80]);
    expect(pool.slice(0, 3).map((c) => c.condition)).toEqual(['espeak', 'flite', 'flite-noisy']);
    expect(new Set(pool.map((c) => c.voice)).size).toBe(8);
    expect(pool.every((c) => (c.condition === 'flite-noisy') === (c.noiseDb !== undefined))).toBe(true);
  });

  it('three gold clips per sentence: espeak, clean flite, noisy flite in another voice', () => {
    expect(gold).toHaveLength(300);
    for (let k = 0; k < 100; k++) {
      const [e, f, n] = gold.slice(3 * k, 3 * k + 3);
      expect(new Set([e.text, f.text, n.text]).size).toBe(1);
      expect([e.condition, f.condition, n.condition]).toEqual(['espeak', 'flite', 'flite-noisy']);
      expect(e.voice.startsWith('espeak-ng:')).toBe(true);
      expect(n.voice).not.toBe(f.voice);
      expect([25, 30]).toContain(n.noiseDb);
    }
    expect(new Set(gold.map((c) => c.id)).size).toBe(300);
    expect(gold.filter((c) => c.noiseDb === 25).length).toBeGreaterThan(30);
    expect(gold.filter((c) => c.noiseDb === 30).length).toBeGreaterThan(30);
  });
});
