/**
 * Where image bytes live: the original as uploaded, a preview and a thumbnail, per project, named by the
 * original's sha256 (content addressed: the same photo uploaded twice is stored once per project).
 *
 * One seam, two implementations: a folder (production; under FURROW_DATA_DIR by default) and memory (tests).
 * Object storage (S3 and the like) is the later third: several machines need a store they share, and the
 * folder is only shared by processes on one machine (PostgreSQL through DATABASE_URL does not change that).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, unlink, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';

/** The stored forms of one image. */
export type MediaVariant = 'original' | 'preview' | 'thumb';
export const MEDIA_VARIANTS: readonly MediaVariant[] = ['original', 'preview', 'thumb'];

/** One stored object, opened for reading. */
export interface MediaObject {
  body: Readable;
  bytes: number;
}

/** A file to stream an upload into before it is checked; `cleanup` removes it if it was not stored. */
export interface TempFile {
  path: string;
  cleanup(): Promise<void>;
}

export interface MediaStore {
  /** 'folder' or 'memory'. */
  readonly kind: string;
  /** Stores one variant (idempotent: the same id holds the same bytes). */
  put(projectId: string, mediaId: string, variant: MediaVariant, bytes: Buffer): Promise<void>;
  /** Stores a file made by `tempFile()` as one variant; the temp file is consumed. */
  putFile(projectId: string, mediaId: string, variant: MediaVariant, tempPath: string): Promise<void>;
  /** Opens one variant; null if it is not stored. */
  open(projectId: string, mediaId: string, variant: MediaVariant): Promise<MediaObject | null>;
  /**
   * Removes every variant of one image. Content addressed: the caller checks no other item of the project
   * still refers to the same id (pipelines/media.ts `releaseItemMedia` does).
   */
  deleteItemMedia(projectId: string, mediaId: string): Promise<void>;
  /** Removes every image of a project. */
  deleteProjectMedia(projectId: string): Promise<void>;
  /** A fresh temp file path on the store's file system (so `putFile` is a rename). */
  tempFile(): Promise<TempFile>;
}

const SAFE = /^[A-Za-z0-9_-]{1,128}$/;

function check(projectId: string, mediaId: string): void {
  // Ids come from the database and from sha256, never from a request; checked anyway, since they become paths.
  if (!SAFE.test(projectId) || !SAFE.test(mediaId)) throw new Error(`unsafe media path: ${projectId}/${mediaId}`);
}

async function removeQuietly(file: string): Promise<void> {
  await unlink(file).catch(() => {});
}

/**
 * Files under `root`: `<root>/<projectId>/<id[0:2]>/<id>/<variant>`, temp files under `<root>/.tmp`.
 * Writes go to a temp file first and are renamed into place, so a reader never sees half an image.
 */
export function createFolderMediaStore(root: string): MediaStore {
  const dirOf = (projectId: string, mediaId: string) => path.join(root, projectId, mediaId.slice(0, 2), mediaId);
  const tmpDir = path.join(root, '.tmp');
  const tempFile = async (): Promise<TempFile> => {
    await mkdir(tmpDir, { recursive: true });
    const file = path.join(tmpDir, randomUUID());
    return { path: file, cleanup: () => removeQuietly(file) };
  };
  const putFile = async (projectId: string, mediaId: string, variant: MediaVariant, tempPath: string) => {
    check(projectId, mediaId);
    const dir = dirOf(projectId, mediaId);
    await mkdir(dir, { recursive: true });
    await rename(tempPath, path.join(dir, variant));
  };
  return {
    kind: 'folder',
    async put(projectId, mediaId, variant, bytes) {
      const t = await tempFile();
      try {
        await writeFile(t.path, bytes);
        await putFile(projectId, mediaId, variant, t.path);
      } finally {
        await t.cleanup();
      }
    },
    putFile: async (projectId, mediaId, variant, tempPath) => {
      // A file from elsewhere (another file system) is copied; one of ours is renamed.
      if (path.dirname(tempPath) === tmpDir) return putFile(projectId, mediaId, variant, tempPath);
      const t = await tempFile();
      await copyFile(tempPath, t.path);
      await removeQuietly(tempPath);
      return putFile(projectId, mediaId, variant, t.path);
    },
    async open(projectId, mediaId, variant) {
      check(projectId, mediaId);
      const file = path.join(dirOf(projectId, mediaId), variant);
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) return null;
      return { body: createReadStream(file), bytes: info.size };
    },
    async deleteItemMedia(projectId, mediaId) {
      check(projectId, mediaId);
      await rm(dirOf(projectId, mediaId), { recursive: true, force: true });
    },
    async deleteProjectMedia(projectId) {
      if (!SAFE.test(projectId)) throw new Error(`unsafe media path: ${projectId}`);
      await rm(path.join(root, projectId), { recursive: true, force: true });
    },
    tempFile,
  };
}

/** The test fake: everything in a Map (temp files still go to the OS temp folder, since uploads stream). */
export function createMemoryMediaStore(): MediaStore & { size(): number } {
  const objects = new Map<string, Buffer>();
  const keyOf = (projectId: string, mediaId: string, variant: MediaVariant) => `${projectId}/${mediaId}/${variant}`;
  return {
    kind: 'memory',
    size: () => objects.size,
    async put(projectId, mediaId, variant, bytes) {
      check(projectId, mediaId);
      objects.set(keyOf(projectId, mediaId, variant), Buffer.from(bytes));
    },
    async putFile(projectId, mediaId, variant, tempPath) {
      check(projectId, mediaId);
      objects.set(keyOf(projectId, mediaId, variant), await readFile(tempPath));
      await removeQuietly(tempPath);
    },
    async open(projectId, mediaId, variant) {
      check(projectId, mediaId);
      const bytes = objects.get(keyOf(projectId, mediaId, variant));
      return bytes ? { body: Readable.from([bytes]), bytes: bytes.length } : null;
    },
    async deleteItemMedia(projectId, mediaId) {
      for (const v of MEDIA_VARIANTS) objects.delete(keyOf(projectId, mediaId, v));
    },
    async deleteProjectMedia(projectId) {
      for (const k of [...objects.keys()]) if (k.startsWith(`${projectId}/`)) objects.delete(k);
    },
    async tempFile() {
      const file = path.join(tmpdir(), `furrow-upload-${randomUUID()}`);
      return { path: file, cleanup: () => removeQuietly(file) };
    },
  };
}
