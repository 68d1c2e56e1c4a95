/**
 * Where the transcription benchmark's clips live and what their manifest says. `npm run bench:speech-data`
 * writes `${FURROW_BENCH_DATA:-/var/tmp/furrow-bench-data}/speech/<domain>/{pool,gold}/<id>.wav` and one
 * `manifest.jsonl` per domain; `npm run bench:transcribe` reads them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { VoiceCondition } from '../../pipelines/speech/corpora.ts';
import { benchDataDir } from './bench-tasks.ts';

/** One line of `speech/<domain>/manifest.jsonl`. */
export interface SpeechManifestRow {
  id: string;
  /** The WAV file, relative to the domain's directory (`pool/produce-pool-0000.wav`). */
  path: string;
  /** The reference transcript (lower case, numbers as words). */
  text: string;
  /** `flite:<voice>` or `espeak-ng:<voice>:<wpm>` (pipelines/speech/synthesize.ts). */
  voice: string;
  /** SNR in dB of the added white noise, null for a clean clip. */
  noiseDb: number | null;
  condition: VoiceCondition;
  /** `seen-<i>` or `heldout-<i>` (pipelines/speech/corpora.ts). */
  template: string;
  heldOut: boolean;
  split: 'pool' | 'gold';
  durationMs: number;
}

/** `<bench data>/speech/<domain>`. */
export function speechDomainDir(domain: string, root = benchDataDir()): string {
  return path.join(root, 'speech', domain);
}

/** The manifest's rows, absolute paths not resolved. @throws Error telling how to build a missing set. */
export function readSpeechManifest(domain: string, root = benchDataDir()): SpeechManifestRow[] {
  const file = path.join(speechDomainDir(domain, root), 'manifest.jsonl');
  if (!fs.existsSync(file))
    throw new Error(`${file} not found: build it with \`npm run bench:speech-data -- --domains ${domain}\` (docs/benchmarks-transcription.md).`);
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SpeechManifestRow);
}

/**
 * CPU seconds of this process's children that have been waited for (/proc/self/stat cutime + cstime), on
 * Linux; 0 elsewhere. Node reaps its children, so after an execFile resolves its CPU time is counted here.
 */
export function childCpuSeconds(): number {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17 (1-based).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[13]) + Number(rest[14]);
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}
