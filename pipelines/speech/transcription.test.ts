import { describe, expect, it } from 'vitest';
import { TranscriptionError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { createMemoryMediaStore } from '../../media/media-store.ts';
import type { PipelineContext } from '../context.ts';
import type { SpeechEngine } from './engine.ts';
import { transcribeStored } from './transcription.ts';
import { encodeWav } from './wav.ts';

/** A context with only what transcribeStored uses: the media store, the recogniser and a logger. */
async function contextWith(transcribe: SpeechEngine['transcribe']) {
  const media = createMemoryMediaStore();
  const samples = Int16Array.from({ length: 16000 }, (_, i) => Math.round(8000 * Math.sin(i / 5)));
  await media.put('p1', 'clip1', 'original', encodeWav({ sampleRate: 16000, channels: 1, samples }));
  const speech: SpeechEngine = { transcribe, release: async () => {}, concurrency: 1, close: async () => {} };
  return { media, speech, logger: silentLogger } as unknown as PipelineContext;
}
const data = { media: { id: 'clip1', type: 'audio/wav', width: 0, height: 0, preview: false, thumb: false, durationMs: 1000 } };
const ref = { key: 'p1-v1', load: async () => ({ version: 1 }) };

describe('transcribeStored', () => {
  it('hands the recogniser the clip as raw PCM and returns its text, confidence and words', async () => {
    let bytes = 0;
    const ctx = await contextWith(async (_ref, pcmPath, durationMs) => {
      bytes = (await import('node:fs')).statSync(pcmPath).size;
      expect(durationMs).toBe(1000);
      return { text: 'hello', confidence: 0.8, words: [{ word: 'hello', start: 0.1, end: 0.5, confidence: 0.8 }], cpuMs: 1, modelVersion: 1 };
    });
    const t = await transcribeStored(ctx, 'p1', 'item1', data, ref);
    expect(bytes).toBe(32000);
    expect(t).toEqual({ itemId: 'item1', text: 'hello', confidence: 0.8, words: [{ word: 'hello', start: 0.1, end: 0.5, confidence: 0.8 }] });
  });

  it('marks a clip the recogniser gave up on (its worker died twice) as failed with the reason, without failing the job', async () => {
    const ctx = await contextWith(async () => {
      throw new TranscriptionError('the worker crashed twice on this clip (signal SIGSEGV)', 'crashed', null, 'SIGSEGV');
    });
    const t = await transcribeStored(ctx, 'p1', 'item1', data, ref);
    expect(t).toMatchObject({ itemId: 'item1', text: '', confidence: 0, words: [] });
    expect(t.error).toMatch(/SIGSEGV/);
  });

  it('marks a clip missing from the media store as failed', async () => {
    const ctx = await contextWith(async () => {
      throw new Error('not reached');
    });
    const t = await transcribeStored(ctx, 'p1', 'item1', { media: { ...data.media, id: 'gone' } }, ref);
    expect(t.error).toMatch(/missing/);
  });
});
