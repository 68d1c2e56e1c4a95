import { describe, expect, it } from 'vitest';
import type { SerializedModel } from './classifier.ts';
import { decodeModel, encodeModel, readModelSpec } from './weights.ts';

function sample(): SerializedModel {
  const values = Float32Array.from({ length: 2 * 3 + 3 }, (_, i) => i * 0.5 - 1);
  return {
    spec: { modality: 'vector', labels: ['a', 'b', 'c'], dim: 2, arch: 'mlp-v1' },
    manifest: [
      { name: 'w', shape: [2, 3] },
      { name: 'b', shape: [3] },
    ],
    weights: new Uint8Array(values.buffer),
  };
}

describe('model blobs', () => {
  it('round-trips spec, manifest and weights', () => {
    const model = sample();
    const blob = encodeModel(model);
    const back = decodeModel(blob);
    expect(back.spec).toEqual(model.spec);
    expect(back.manifest).toEqual(model.manifest);
    expect(Array.from(back.weights)).toEqual(Array.from(model.weights));
    expect(readModelSpec(blob)).toEqual(model.spec);
    // The payload is 4-byte aligned so it can be viewed as floats in place.
    expect(back.weights.byteOffset % 4).toBe(0);
  });

  it('decodes a blob that sits at an offset inside a larger buffer', () => {
    const blob = encodeModel(sample());
    const shifted = new Uint8Array(blob.length + 3);
    shifted.set(blob, 3);
    expect(decodeModel(shifted.subarray(3)).manifest).toHaveLength(2);
  });

  it('rejects truncated blobs, cut in the payload or in the header', () => {
    const blob = encodeModel(sample());
    expect(() => decodeModel(blob.subarray(0, blob.length - 4))).toThrow(/truncated/);
    expect(() => decodeModel(blob.subarray(0, 20))).toThrow(/truncated/);
    expect(() => decodeModel(blob.subarray(0, 5))).toThrow(/magic/);
  });

  it('rejects extra bytes, foreign data and corrupt payloads', () => {
    const blob = encodeModel(sample());
    const longer = new Uint8Array(blob.length + 4);
    longer.set(blob);
    expect(() => decodeModel(longer)).toThrow(/longer than declared/);
    expect(() => decodeModel(new TextEncoder().encode('{"not":"a model"}'))).toThrow(/magic/);
    const corrupt = blob.slice();
    corrupt[corrupt.length - 1] ^= 0xff;
    expect(() => decodeModel(corrupt)).toThrow(/checksum/);
  });

  it('refuses to encode weights that do not match the manifest', () => {
    const model = sample();
    expect(() => encodeModel({ ...model, weights: model.weights.subarray(4) })).toThrow(/manifest/);
  });
});
