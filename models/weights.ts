/**
 * One self-describing blob per model version, so the database stores a single bytea:
 *
 *   bytes 0-3   magic "FRWM"
 *   bytes 4-7   header length H (uint32 little-endian)
 *   bytes 8..   header: UTF-8 JSON {format, spec, manifest, payloadBytes, checksum}, space-padded so the
 *               payload starts on a 4-byte boundary
 *   then        payload: the float32 little-endian values of every manifest entry, in order
 *
 * The checksum (FNV-1a over the payload) catches corruption that keeps the length intact.
 */
import type { ModelSpec, SerializedModel } from './classifier.ts';

const MAGIC = [0x46, 0x52, 0x57, 0x4d]; // "FRWM"
const FORMAT = 1;
/** Refuse absurd headers before trying to parse them. */
const MAX_HEADER_BYTES = 1 << 20;

interface Header {
  format: number;
  spec: ModelSpec;
  manifest: { name: string; shape: number[] }[];
  payloadBytes: number;
  checksum: number;
}

/** Packs a serialised model into one blob (see the file comment for the layout). */
export function encodeModel(model: SerializedModel): Uint8Array {
  const payloadBytes = model.weights.byteLength;
  const expected = model.manifest.reduce((a, m) => a + 4 * m.shape.reduce((x, y) => x * y, 1), 0);
  if (expected !== payloadBytes) {
    throw new Error(`Cannot encode model: the manifest describes ${expected} bytes but the weights hold ${payloadBytes}.`);
  }
  const header: Header = { format: FORMAT, spec: model.spec, manifest: model.manifest, payloadBytes, checksum: fnv1a(model.weights) };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 4) * 4 - 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const blob = new Uint8Array(8 + json.length + payloadBytes);
  blob.set(MAGIC, 0);
  new DataView(blob.buffer).setUint32(4, json.length, true);
  blob.set(json, 8);
  blob.set(model.weights, 8 + json.length);
  return blob;
}

/**
 * Unpacks and validates a blob from encodeModel. Throws an Error naming the problem when the blob is not
 * a Furrow model, is truncated or padded, or its header and payload disagree. The returned weights are a
 * view into `blob` (no copy).
 */
export function decodeModel(blob: Uint8Array): SerializedModel {
  const { header, payloadOffset } = readHeader(blob);
  const actual = blob.byteLength - payloadOffset;
  if (actual !== header.payloadBytes) {
    throw new Error(
      `Model blob is ${actual < header.payloadBytes ? 'truncated' : 'longer than declared'}: ` +
        `${actual} payload bytes, header declares ${header.payloadBytes}.`,
    );
  }
  const weights = blob.subarray(payloadOffset);
  if (fnv1a(weights) !== header.checksum) throw new Error('Model blob is corrupt: the payload checksum does not match.');
  return { spec: header.spec, manifest: header.manifest, weights };
}

/** The spec stored in a blob, without touching (or checking) the weights. */
export function readModelSpec(blob: Uint8Array): ModelSpec {
  return readHeader(blob).header.spec;
}

function readHeader(blob: Uint8Array): { header: Header; payloadOffset: number } {
  if (!(blob instanceof Uint8Array)) throw new Error('Model blob must be a Uint8Array.');
  if (blob.byteLength < 8 || MAGIC.some((b, i) => blob[i] !== b)) {
    throw new Error('Not a Furrow model blob (bad magic bytes).');
  }
  const headerBytes = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(4, true);
  if (headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > blob.byteLength) {
    throw new Error(`Model blob is truncated: header declares ${headerBytes} bytes, blob holds ${blob.byteLength - 8}.`);
  }
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(blob.subarray(8, 8 + headerBytes))) as Header;
  } catch {
    throw new Error('Model blob header is not valid JSON.');
  }
  if (header?.format !== FORMAT) throw new Error(`Unsupported model blob format ${String(header?.format)}; expected ${FORMAT}.`);
  if (!header.spec || typeof header.spec !== 'object' || !Array.isArray(header.spec.labels)) {
    throw new Error('Model blob header has no valid spec.');
  }
  if (
    !Array.isArray(header.manifest) ||
    !header.manifest.every((m) => typeof m?.name === 'string' && Array.isArray(m.shape) && m.shape.every((d) => Number.isInteger(d) && d >= 0))
  ) {
    throw new Error('Model blob header has no valid manifest.');
  }
  const described = header.manifest.reduce((a, m) => a + 4 * m.shape.reduce((x, y) => x * y, 1), 0);
  if (described !== header.payloadBytes) {
    throw new Error(`Model blob header is inconsistent: manifest needs ${described} bytes, header declares ${header.payloadBytes}.`);
  }
  return { header, payloadOffset: 8 + headerBytes };
}

/** 32-bit FNV-1a: enough to notice a flipped or zeroed range; a few ms per megabyte. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}
