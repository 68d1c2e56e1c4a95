import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import type { Db } from '../db/client.ts';
import type PQueue from 'p-queue';
import type { MediaStore } from '../media/media-store.ts';
import type { ModelRunner } from '../models/model-runner.ts';
import type { EmbeddingCache } from './embedding-cache.ts';
import type { SpeechEngine } from './speech/engine.ts';

/** What every pipeline function gets: the database, the model runner, config and a logger. No module state. */
export interface PipelineContext {
  db: Db;
  runner: ModelRunner;
  config: Config;
  logger: Logger;
  /** Bounds the big requests' main-thread work (core/sliced.ts): ingest decoding, prediction inputs. */
  work: PQueue;
  /** Item embeddings under each project's active version, reused by the cold start's queue requests. */
  embeddings: EmbeddingCache;
  /** Originals, previews and thumbnails of image items. */
  media: MediaStore;
  /** The speech recogniser of transcription projects; null where its Debian packages are not installed. */
  speech: SpeechEngine | null;
  /** Called after a job is enqueued so the in-process runner picks it up without waiting for a poll. */
  onJobQueued?: () => void;
  /** Called after webhook deliveries are queued, so the dispatcher sends them without waiting for a poll. */
  onWebhookQueued?: () => void;
}
