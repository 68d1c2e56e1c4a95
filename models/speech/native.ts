/**
 * Finds or builds the pocketsphinx worker binary (psworker.c). It is compiled on first use rather than shipped,
 * because it links against the machine's libpocketsphinx; the build is cached under a hash of the source and
 * the library flags, so a changed worker or library gets a fresh binary and an unchanged one costs nothing.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SpeechEngineUnavailableError } from '../../core/errors.ts';

const run = promisify(execFile);

/** The Debian packages the engine needs, named in every "not installed" error. */
export const SPEECH_PACKAGES = 'gcc pkg-config libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us';

/** Paths of the stock US-English model (Debian pocketsphinx-en-us). */
export const STOCK_MODEL = {
  hmm: '/usr/share/pocketsphinx/model/en-us/en-us',
  lm: '/usr/share/pocketsphinx/model/en-us/en-us.lm.bin',
  dict: '/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict',
} as const;

const SOURCE = fileURLToPath(new URL('./psworker.c', import.meta.url));

let available: boolean | undefined;

/**
 * Whether the engine can run here: a C compiler, pkg-config finding pocketsphinx and sphinxbase, and the stock
 * model files. Probed once per process (a few ms) so tests and servers can say plainly when it is missing.
 */
export function speechEngineAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync('pkg-config', ['--exists', 'pocketsphinx', 'sphinxbase'], { stdio: 'ignore' });
      execFileSync('gcc', ['--version'], { stdio: 'ignore' });
      available = Object.values(STOCK_MODEL).every((p) => existsSync(p));
    } catch {
      available = false;
    }
  }
  return available;
}

/** Where the worker binary is cached; the default is `<os.tmpdir()>/furrow-speech`. */
export interface WorkerBinaryOptions {
  cacheDir?: string;
}

/**
 * Path of a compiled worker, `<cacheDir>/<hash>/psworker`, building it when absent. Concurrent builds (two
 * processes, or two pools) each compile to a private temp name and rename it into place, so nobody ever runs
 * a half-written binary. Rejects with SpeechEngineUnavailableError naming the Debian packages when gcc,
 * pkg-config or the pocketsphinx headers are missing.
 */
export async function ensureWorkerBinary(opts: WorkerBinaryOptions = {}): Promise<string> {
  let flags: string[];
  try {
    flags = (await run('pkg-config', ['--cflags', '--libs', 'pocketsphinx', 'sphinxbase'])).stdout.trim().split(/\s+/);
  } catch (err) {
    throw unavailable('pkg-config does not find pocketsphinx and sphinxbase', err);
  }
  const source = await readFile(SOURCE);
  const hash = createHash('sha256').update(source).update(flags.join(' ')).digest('hex').slice(0, 16);
  const dir = join(opts.cacheDir ?? join(tmpdir(), 'furrow-speech'), hash);
  const binary = join(dir, 'psworker');
  if (existsSync(binary)) return binary;
  await mkdir(dir, { recursive: true });
  const temp = `${binary}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await run('gcc', ['-O2', '-o', temp, SOURCE, ...flags]);
    await rename(temp, binary);
  } catch (err) {
    await rm(temp, { force: true });
    throw unavailable('the speech worker did not compile', err);
  }
  return binary;
}

function unavailable(what: string, err: unknown): SpeechEngineUnavailableError {
  const detail = err instanceof Error ? ((err as { stderr?: string }).stderr || err.message).slice(0, 500) : String(err);
  return new SpeechEngineUnavailableError(`Speech recognition is not installed: ${what}. Install: apt-get install ${SPEECH_PACKAGES}`, { detail });
}
