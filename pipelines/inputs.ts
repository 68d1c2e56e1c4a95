import { ValidationError } from '../core/errors.ts';
import type { Modality, ModelInput, ProjectModality } from '../core/types.ts';
import type { ModelSpec } from '../models/classifier.ts';
import type { ProjectSettings } from './settings.ts';

/** Largest text item accepted, in characters. */
export const MAX_TEXT_CHARS = 100_000;

/**
 * A project's modality where only a classifier's can be: audio projects transcribe (pipelines/speech) and never
 * reach the classifier's code, so meeting one here is a bug, not bad input.
 */
export function classifierModality(m: ProjectModality): Modality {
  if (m === 'audio') throw new Error('an audio (transcription) project has no classifier');
  return m;
}

/** The classifier spec for a project. */
export function modelSpecFor(project: { modality: ProjectModality; labels: string[] }, s: ProjectSettings): ModelSpec {
  const p = { modality: classifierModality(project.modality), labels: project.labels };
  if (p.modality === 'image') return { modality: 'image', labels: p.labels, width: s.imageWidth, height: s.imageHeight, channels: s.channels };
  if (p.modality === 'vector') return { modality: 'vector', labels: p.labels, dim: s.vectorDim };
  return { modality: 'text', labels: p.labels };
}

export interface PreparedItem {
  /** What is stored as the item's data (images normalised to a PNG/JPEG base64 string). */
  data: Record<string, unknown>;
  /** Model-ready bytes for images and vectors; null for text. */
  input: Uint8Array | null;
}

/**
 * Validates one ItemData against the project's modality and turns it into stored data plus model-ready bytes.
 * Throws ValidationError with a message a person can act on.
 */
export function prepareItemData(raw: Record<string, unknown>, modality: ProjectModality, s: ProjectSettings): PreparedItem {
  const has = (k: string) => raw[k] !== undefined;
  if (modality === 'text') {
    if (has('image') || has('pixels') || has('vector')) throw new ValidationError('This is a text project: send {text}, not an image or a vector.');
    const text = raw.text;
    if (typeof text !== 'string' || text.trim() === '') throw new ValidationError('"text" must be a non-empty string.');
    if (text.length > MAX_TEXT_CHARS) throw new ValidationError(`"text" is longer than ${MAX_TEXT_CHARS} characters.`);
    return { data: { text }, input: null };
  }
  if (modality === 'vector') {
    if (has('image') || has('pixels') || has('text')) throw new ValidationError('This is a vector project: send {vector}, not text or an image.');
    const v = raw.vector;
    if (!Array.isArray(v)) throw new ValidationError('"vector" must be an array of numbers.');
    if (s.vectorDim !== undefined && v.length !== s.vectorDim)
      throw new ValidationError(`"vector" has ${v.length} numbers; this project's vectors have ${s.vectorDim}.`);
    const f = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new ValidationError(`"vector"[${i}] is not a finite number.`);
      f[i] = x;
    }
    return { data: { vector: v }, input: new Uint8Array(f.buffer) };
  }
  if (modality === 'audio') throw new RangeError('prepareItemData does not read audio: use prepareAudio (pipelines/speech/audio.ts).');
  checkImageItemFields(raw);
  // Image bytes are read asynchronously with sharp, off the event loop: pipelines/media.ts prepareImage.
  throw new RangeError('prepareItemData does not read images: use prepareImage (pipelines/media.ts).');
}

/** Refuses text or vector fields on an image item. */
export function checkImageItemFields(raw: Record<string, unknown>): void {
  if (raw.text !== undefined || raw.vector !== undefined)
    throw new ValidationError('This is an image project: send {image}, {pixels, width, height}, {url} or a file, not text or a vector.');
}

/** The model-ready input of a stored item. */
export function modelInputOf(row: { input: Uint8Array | null; data: Record<string, unknown> }, projectModality: ProjectModality): ModelInput {
  const modality = classifierModality(projectModality);
  if (modality === 'text') return String(row.data.text ?? '');
  if (!row.input) throw new Error('stored item has no model input');
  if (modality === 'vector') {
    // Copy: the driver's buffer may not be 4-byte aligned.
    const copy = new Uint8Array(row.input);
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }
  return row.input;
}
