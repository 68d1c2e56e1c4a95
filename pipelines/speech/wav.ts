/**
 * 16-bit PCM WAV reading and writing, enough for the speech clips Furrow synthesises and the recogniser reads:
 * mono or interleaved channels, little-endian signed 16-bit samples. No resampling: sox does that.
 */

/** Decoded PCM: `samples` are interleaved signed 16-bit values, `sampleRate` in Hz. */
export interface Pcm16 {
  sampleRate: number;
  channels: number;
  samples: Int16Array;
}

/**
 * Parses a RIFF/WAVE file holding 16-bit integer PCM. Walks the chunks rather than assuming a 44-byte header,
 * because tools add LIST chunks and some (espeak-ng writing to a pipe) leave the size fields at 0x7fffffff:
 * a data chunk that claims more than the file holds is read to the end of the file.
 * @throws Error when the file is not RIFF/WAVE or not 16-bit PCM.
 */
export function readWav(buf: Buffer): Pcm16 {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let fmt: { format: number; channels: number; sampleRate: number; bits: number } | undefined;
  let pos = 12;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('ascii', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      fmt = { format: buf.readUInt16LE(body), channels: buf.readUInt16LE(body + 2), sampleRate: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
      // WAVE_FORMAT_EXTENSIBLE carries the real format in its sub-format GUID's first two bytes.
      if (fmt.format === 0xfffe && size >= 26) fmt.format = buf.readUInt16LE(body + 24);
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAV data chunk before its fmt chunk');
      if (fmt.format !== 1 || fmt.bits !== 16) throw new Error(`WAV is not 16-bit PCM (format ${fmt.format}, ${fmt.bits} bits)`);
      const end = Math.min(buf.length, body + size);
      const n = Math.floor((end - body) / 2);
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = buf.readInt16LE(body + 2 * i);
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, samples };
    }
    pos = body + size + (size & 1); // chunks are word-aligned
  }
  throw new Error('WAV has no data chunk');
}

/** A canonical 44-byte-header WAV file of 16-bit PCM: the same input always gives the same bytes. */
export function encodeWav(pcm: Pcm16): Buffer {
  const dataBytes = pcm.samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(pcm.channels, 22);
  out.writeUInt32LE(pcm.sampleRate, 24);
  out.writeUInt32LE(pcm.sampleRate * pcm.channels * 2, 28);
  out.writeUInt16LE(pcm.channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < pcm.samples.length; i++) out.writeInt16LE(pcm.samples[i], 44 + 2 * i);
  return out;
}

/** The samples as headerless little-endian s16 bytes (what the pocketsphinx worker reads). */
export function pcmToRaw(pcm: Pcm16): Buffer {
  const out = Buffer.alloc(pcm.samples.length * 2);
  for (let i = 0; i < pcm.samples.length; i++) out.writeInt16LE(pcm.samples[i], 2 * i);
  return out;
}

/** Duration in milliseconds. */
export function pcmDurationMs(pcm: Pcm16): number {
  return (1000 * pcm.samples.length) / pcm.channels / pcm.sampleRate;
}
