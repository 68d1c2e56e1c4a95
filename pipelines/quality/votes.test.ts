import { describe, expect, it } from 'vitest';
import { indexVotes } from './votes.ts';

describe('indexVotes', () => {
  it('keeps one vote per annotator and item: a second label from the same key corrects its own vote', () => {
    const r = indexVotes(
      [
        { itemId: 'x', annotatorId: 'k1', label: 'cat' },
        { itemId: 'x', annotatorId: 'k2', label: 'cat' },
        { itemId: 'x', annotatorId: 'k1', label: 'dog' },
      ],
      ['cat', 'dog'],
    );
    expect(r.votes.item.length).toBe(2);
    expect(r.corrections).toBe(1);
    expect(Array.from(r.votes.label)).toEqual([1, 0]);
  });

  it('drops labels that are not a class and indexes gold-only items', () => {
    const r = indexVotes([{ itemId: 'x', annotatorId: 'k1', label: 'bird' }], ['cat', 'dog'], new Map([['g', 'dog']]));
    expect(r.unknownLabels).toBe(1);
    expect(r.votes.item.length).toBe(0);
    expect(r.itemIds).toEqual(['g']);
    expect(Array.from(r.votes.gold)).toEqual([1]);
  });
});
