/**
 * The transcription demo `npm start` adds beside the image demo: phone orders for a produce wholesaler, spoken by
 * flite voices (some with noise) and synthesised at first start, a pool to transcribe and a gold set with its
 * reference transcripts. Words like "kohlrabi" are missing from the stock dictionary, so the first drafts get them
 * wrong and a retrain on the corrections learns them: the whole loop in a few minutes of typing.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createProjectKey } from '../access.ts';
import type { PipelineContext } from '../context.ts';
import { ingestItems } from '../ingest.ts';
import { mapLimited } from '../media.ts';
import { projectSettingsSchema } from '../settings.ts';
import { domainSentences, PRODUCE } from './corpora.ts';
import { FLITE_VOICES, speechToolsAvailable, synthesizeClip } from './synthesize.ts';
import { createTranscriptionProject } from './transcription.ts';

export const TRANSCRIPTION_DEMO_NAME = 'Phone orders demo (transcription)';

/** The four flite voices, each clean and with light noise (30 dB SNR). */
const DEMO_VOICES: { voice: string; noiseDb?: number }[] = FLITE_VOICES.flatMap((voice) => [{ voice }, { voice, noiseDb: 30 }]);

/**
 * Creates the transcription demo: `pool` clips to transcribe and `gold` with references, an annotator and an
 * engineer key. Null when the recogniser or flite is missing (nothing to demonstrate with).
 */
export async function createTranscriptionDemo(
  ctx: PipelineContext,
  opts: { pool: number; gold: number },
): Promise<{ projectId: string; keys: { role: string; key: string }[] } | null> {
  if (!ctx.speech) return null;
  const tools = await speechToolsAvailable();
  if (!tools.flite || !tools.sox) return null;
  const project = await createTranscriptionProject(ctx, {
    name: TRANSCRIPTION_DEMO_NAME,
    settings: projectSettingsSchema.parse({ minLabelsToTrain: 10, retrainEvery: 20, goldFraction: 0 }),
  });
  const { pool, gold } = domainSentences(PRODUCE, { pool: opts.pool, goldSeen: opts.gold, goldUnseen: 0, seed: 7 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'furrow-demo-clips-'));
  try {
    const sentences = [...gold.map((s) => ({ ...s, gold: true })), ...pool.map((s) => ({ ...s, gold: false }))];
    const items = await mapLimited(sentences, 2, async (s, i) => {
      const out = path.join(dir, `${i}.wav`);
      const v = DEMO_VOICES[i % DEMO_VOICES.length];
      await synthesizeClip({ text: s.text, voice: v.voice, noiseDb: v.noiseDb, outPath: out });
      const audio = (await readFile(out)).toString('base64');
      return s.gold ? { externalId: `gold-${i}`, split: 'gold' as const, transcript: s.text, audio } : { externalId: `order-${i}`, audio };
    });
    await ingestItems(ctx, project, items);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const keys = [];
  for (const role of ['annotator', 'engineer'] as const) {
    const k = await createProjectKey(ctx.db, project.id, role, `transcription demo ${role}`);
    keys.push({ role, key: k.key });
  }
  return { projectId: project.id, keys };
}
