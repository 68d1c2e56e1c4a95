import { describe, expect, it } from 'vitest';
import { COLD_START_MAX_LABELS, coldStartProven } from './cold-start.ts';

describe('the end of the cold start', () => {
  it('waits for a model whose held-out accuracy is shown, with its interval, to be well above chance', () => {
    expect(coldStartProven(undefined, 10, 50)).toBe(false);
    expect(coldStartProven({ n: 0, accuracy: null }, 10, 50)).toBe(false);
    // Fashion-MNIST after 60 labels: 0.62 on 1,000 held-out items is not enough; 0.80 is.
    expect(coldStartProven({ n: 1000, accuracy: 0.62 }, 10, 60)).toBe(false);
    expect(coldStartProven({ n: 1000, accuracy: 0.8 }, 10, 60)).toBe(true);
    // The same accuracy on few held-out labels proves less.
    expect(coldStartProven({ n: 10, accuracy: 0.8 }, 10, 60)).toBe(false);
    // Chance depends on the classes: 0.8 of 2 classes is kappa 0.6.
    expect(coldStartProven({ n: 1000, accuracy: 0.8 }, 2, 60)).toBe(false);
    expect(coldStartProven({ n: 1000, accuracy: 0.9 }, 2, 60)).toBe(true);
  });

  it('ends at a fixed number of labels whatever the model does', () => {
    expect(coldStartProven({ n: 5, accuracy: 0.2 }, 10, COLD_START_MAX_LABELS - 1)).toBe(false);
    expect(coldStartProven({ n: 5, accuracy: 0.2 }, 10, COLD_START_MAX_LABELS)).toBe(true);
    expect(coldStartProven(undefined, 10, COLD_START_MAX_LABELS)).toBe(true);
  });
});
