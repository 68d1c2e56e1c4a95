import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { currentBackend, initBackend } from './backend.ts';

describe('backend selection', () => {
  it('rejects unknown backend names', async () => {
    await expect(initBackend('gpu-please')).rejects.toThrow(/Unknown tfjs backend/);
  });

  it('starts the preferred backend once and returns it on later calls', async () => {
    const name = await initBackend('wasm');
    expect(name).toBe('wasm');
    expect(currentBackend()).toBe('wasm');
    // Idempotent: the first choice stands.
    expect(await initBackend('cpu')).toBe('wasm');
    expect(tf.sum(tf.tensor([1, 2, 3])).dataSync()[0]).toBe(6);
  });
});
