import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { speechEngineAvailable } from './native.ts';

/** Whether a process is alive (signal 0 tests without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A server killed without closing its pool (SIGKILL, the OOM killer) must not leave its workers decoding for
 * nobody. A worker that logs to its stderr pipe dies of SIGPIPE at its next line anyway; one that logs nothing
 * (-logfn /dev/null) would decode on until its clip ended, so each worker also asks the kernel for SIGKILL when its
 * parent dies (prctl PR_SET_PDEATHSIG). This checks the outcome, whichever way it comes.
 */
describe.skipIf(!speechEngineAvailable())('a worker whose server dies', () => {
  it('dies with it, even in the middle of a clip', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'furrow-orphan-'));
    try {
      // Two minutes of real read speech (the LibriVox canary clips, repeated): half a minute of decoding or more.
      const speech = await readFile('/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav');
      const pcm = speech.subarray(44); // a canonical 44-byte header, 16 kHz mono 16-bit
      const raw = Buffer.concat(Array.from({ length: Math.ceil((16000 * 120 * 2) / pcm.length) }, () => pcm)).subarray(0, 16000 * 120 * 2);
      const clip = path.join(dir, 'speech.raw');
      await writeFile(clip, raw);
      const script = `
        import { createPocketsphinxPool } from ${JSON.stringify(path.resolve('models/speech/recognizer.ts'))};
        const pool = await createPocketsphinxPool({ size: 1, workDir: ${JSON.stringify(dir)}, timeoutMsPerAudioSecond: 600000,
          onEvent: (e) => { if (e.type === 'dispatch') console.log('busy ' + e.pid); } });
        pool.transcribe(${JSON.stringify(clip)}, { durationMs: 120000 }).catch(() => {});
        setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const workerPid = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /busy (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', (code) => reject(new Error(`the pool's process exited first (${code})`)));
      });
      expect(alive(workerPid)).toBe(true);
      child.kill('SIGKILL');
      let gone = false;
      for (let i = 0; i < 100 && !gone; i++) {
        await new Promise((r) => setTimeout(r, 100));
        gone = !alive(workerPid);
      }
      if (!gone) process.kill(workerPid, 'SIGKILL');
      expect(gone).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
