import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpeechEngineUnavailableError } from '../../core/errors.ts';
import { ensureWorkerBinary, speechEngineAvailable } from './native.ts';

describe('ensureWorkerBinary', () => {
  it('names the Debian packages when the toolchain is missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const err = await ensureWorkerBinary({ cacheDir: join(tmpdir(), 'furrow-speech-none') }).catch((e) => e);
      expect(err).toBeInstanceOf(SpeechEngineUnavailableError);
      expect(err.status).toBe(503);
      expect(err.message).toMatch(/apt-get install .*libpocketsphinx-dev/);
    } finally {
      process.env.PATH = path;
    }
  });

  it.skipIf(!speechEngineAvailable())('builds once into a hash-named cache dir, even when two builds race', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'furrow-speech-build-'));
    try {
      const [a, b] = await Promise.all([ensureWorkerBinary({ cacheDir }), ensureWorkerBinary({ cacheDir })]);
      expect(a).toBe(b);
      expect(a).toMatch(new RegExp(`^${cacheDir}/[0-9a-f]{16}/psworker$`));
      accessSync(a, constants.X_OK);
      expect(await ensureWorkerBinary({ cacheDir })).toBe(a);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
