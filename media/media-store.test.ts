import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, describe, expect, it } from 'vitest';
import { createFolderMediaStore, createMemoryMediaStore, type MediaStore } from './media-store.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const stores: [string, () => Promise<MediaStore>][] = [
  [
    'folder',
    async () => {
      const d = await mkdtemp(path.join(tmpdir(), 'furrow-media-'));
      dirs.push(d);
      return createFolderMediaStore(d);
    },
  ],
  ['memory', async () => createMemoryMediaStore()],
];

describe.each(stores)('%s media store', (_name, make) => {
  it('stores, opens and deletes by item and by project', async () => {
    const store = await make();
    await store.put('p1', 'aaaa', 'original', Buffer.from('orig'));
    await store.put('p1', 'aaaa', 'thumb', Buffer.from('th'));
    const t = await store.tempFile();
    await writeFile(t.path, 'from a temp file');
    await store.putFile('p1', 'bbbb', 'original', t.path);
    await store.put('p2', 'aaaa', 'original', Buffer.from('other project'));

    const o = await store.open('p1', 'aaaa', 'original');
    expect(o?.bytes).toBe(4);
    expect(await text(o!.body)).toBe('orig');
    expect(await text((await store.open('p1', 'bbbb', 'original'))!.body)).toBe('from a temp file');
    expect(await store.open('p1', 'aaaa', 'preview')).toBeNull();

    await store.deleteItemMedia('p1', 'aaaa');
    expect(await store.open('p1', 'aaaa', 'original')).toBeNull();
    expect(await store.open('p1', 'aaaa', 'thumb')).toBeNull();
    expect(await store.open('p1', 'bbbb', 'original')).not.toBeNull();

    await store.deleteProjectMedia('p1');
    expect(await store.open('p1', 'bbbb', 'original')).toBeNull();
    expect(await text((await store.open('p2', 'aaaa', 'original'))!.body)).toBe('other project');
  });

  it('refuses ids that would leave its folder', async () => {
    const store = await make();
    await expect(store.put('../etc', 'aaaa', 'original', Buffer.from('x'))).rejects.toThrow(/unsafe/);
    await expect(store.open('p1', '../../x', 'original')).rejects.toThrow(/unsafe/);
  });
});

it('the folder store leaves no temp files behind', async () => {
  const d = await mkdtemp(path.join(tmpdir(), 'furrow-media-'));
  dirs.push(d);
  const store = createFolderMediaStore(d);
  await store.put('p', 'cccc', 'original', Buffer.from('x'));
  expect(await readdir(path.join(d, '.tmp'))).toEqual([]);
});
