/**
 * The recognisers a process keeps loaded: one worker pool per (project, model version) in use, the least
 * recently used closed when more than `maxModels` are open (each pocketsphinx worker holds the general
 * language model, ~100-175 MB). Pipelines ask for a transcription under a model reference; this loads the
 * version's model from the database on first use.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Recognizer, SpeechModel, Transcription } from '../../models/speech/recognizer.ts';

/** A model a transcription runs under: a cache key and how to get the model if it is not loaded. */
export interface SpeechModelRef {
  key: string;
  load(): Promise<SpeechModel>;
}

export interface SpeechEngine {
  /** Transcribes one clip (raw 16 kHz mono 16-bit PCM at `pcmPath`) under a model. */
  transcribe(ref: SpeechModelRef, pcmPath: string, durationMs: number): Promise<Transcription>;
  /** Closes the pool of one model (a finished candidate evaluation), if open. */
  release(key: string): Promise<void>;
  /** Workers per model: how many clips are worth sending at once. */
  readonly concurrency: number;
  close(): Promise<void>;
}

export interface SpeechEngineOptions {
  /** Makes a recogniser for a model (production: createPocketsphinxPool; tests: a fake). */
  createRecognizer(model: SpeechModel, workDir: string): Promise<Recognizer>;
  /** Model files (domain LM, dictionary) are written under here, one folder per open model. */
  workDir: string;
  /** Workers per model. */
  poolSize: number;
  /** Open models at most; the least recently used is closed beyond. */
  maxModels?: number;
}

export function createSpeechEngine(opts: SpeechEngineOptions): SpeechEngine {
  const maxModels = opts.maxModels ?? 3;
  const open = new Map<string, Promise<Recognizer>>();
  const safe = (key: string) => key.replace(/[^A-Za-z0-9_-]/g, '_');

  async function recognizerFor(ref: SpeechModelRef): Promise<Recognizer> {
    let r = open.get(ref.key);
    if (r) {
      // Most recently used last.
      open.delete(ref.key);
      open.set(ref.key, r);
      return r;
    }
    r = (async () => {
      const dir = path.join(opts.workDir, safe(ref.key));
      await mkdir(dir, { recursive: true });
      return opts.createRecognizer(await ref.load(), dir);
    })();
    open.set(ref.key, r);
    r.catch(() => open.delete(ref.key));
    while (open.size > maxModels) {
      const [oldest] = open.keys();
      await release(oldest);
    }
    return r;
  }

  async function release(key: string): Promise<void> {
    const r = open.get(key);
    if (!r) return;
    open.delete(key);
    // Clips already sent to it finish first (close waits for them).
    await r.then((x) => x.close()).catch(() => {});
    await rm(path.join(opts.workDir, safe(key)), { recursive: true, force: true }).catch(() => {});
  }

  return {
    concurrency: opts.poolSize,
    async transcribe(ref, pcmPath, durationMs) {
      const r = await recognizerFor(ref);
      return r.transcribe(pcmPath, { durationMs });
    },
    release,
    async close() {
      await Promise.all([...open.keys()].map(release));
    },
  };
}
