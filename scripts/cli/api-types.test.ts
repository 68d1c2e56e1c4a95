import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { generateTypes, TYPES_FILE } from './generate-types.ts';

describe('the typed client', () => {
  it('is generated from the current OpenAPI document (run `npm run client:generate` after changing a route)', async () => {
    expect(await readFile(TYPES_FILE, 'utf8')).toBe(await generateTypes());
  });
});
