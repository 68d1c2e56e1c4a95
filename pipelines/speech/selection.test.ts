import { describe, expect, it } from 'vitest';
import { coverageUnits, type SelectionCandidate, selectForCorrection } from './selection.ts';

/** A clip whose words are given as "word:posterior" (posterior 0.9 when omitted). */
function clip(id: string, text: string): SelectionCandidate {
  const words = text.split(' ').map((t) => {
    const [word, p] = t.split(':');
    return { word, confidence: p === undefined ? 0.9 : Number(p) };
  });
  return { id, confidence: words.reduce((s, w) => s + w.confidence, 0) / words.length, words };
}

describe('coverageUnits', () => {
  it('uncertain n-grams with their confident left neighbour, confident bigrams at a lower weight', () => {
    const u = coverageUnits(clip('a', 'two crates of sell:0.2 a:0.3 rock:0.1 please'));
    expect(u.get('u1:sell')).toBe(1);
    expect(u.get('u2:sell a')).toBe(1);
    expect(u.get('u3:sell a rock')).toBe(1);
    expect(u.get('uc:of sell')).toBe(0.5);
    expect(u.get('c2:two crates')).toBe(0.2);
    expect(u.has('c2:rock please')).toBe(false);
    expect(u.has('u1:please')).toBe(false);
  });
});

describe('selectForCorrection', () => {
  // Three clips mishear one missing word the same way; two others each hold a different one.
  const pool = [
    clip('a1', 'two crates of sell:0.2 a:0.3 rock:0.1'),
    clip('a2', 'five crates of sell:0.25 a:0.3 rock:0.2'),
    clip('a3', 'ten boxes of sell:0.1 a:0.2 rock:0.3'),
    clip('b', 'two crates of tat:0.4 soy:0.5'),
    clip('c', 'ten boxes of rad:0.5 dickie:0.55 oh:0.5'),
    clip('d', 'cancel the order:0.95 on monday'),
  ];

  it('coverage picks one clip per distinct uncertain stretch before repeats', () => {
    const order = selectForCorrection(pool, 3, 'coverage');
    expect(order).toHaveLength(3);
    expect(new Set(order.slice(0, 3).map((id) => id[0]))).toEqual(new Set(['a', 'b', 'c']));
  });

  it('lowest-confidence takes the three clips of the same missing word', () => {
    expect(selectForCorrection(pool, 3, 'lowest-confidence').sort()).toEqual(['a1', 'a2', 'a3']);
  });

  it('random is a seeded permutation, the same whatever the input order', () => {
    const a = selectForCorrection(pool, 6, 'random', { seed: 4 });
    expect([...a].sort()).toEqual(pool.map((c) => c.id).sort());
    expect(selectForCorrection([...pool].reverse(), 6, 'random', { seed: 4 })).toEqual(a);
    expect(selectForCorrection(pool, 6, 'random', { seed: 5 })).not.toEqual(a);
  });

  it('fills up by confidence when nothing new is left, and never returns more than the pool', () => {
    const order = selectForCorrection(pool, 10, 'coverage');
    expect(order).toHaveLength(6);
    expect(new Set(order).size).toBe(6);
    expect(selectForCorrection(pool, 0, 'coverage')).toEqual([]);
  });
});
