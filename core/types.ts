/** Shapes shared by every layer. Arrays only: no tf.Tensor crosses a module boundary. */
/** What a classifier's items are: the modalities the tfjs models take. */
export type Modality = 'image' | 'text' | 'vector';
/** What a project's items are: a classifier modality, or audio (transcription projects, models/speech). */
export type ProjectModality = Modality | 'audio';
export type Role = 'admin' | 'engineer' | 'annotator' | 'client';
export const ROLES: readonly Role[] = ['admin', 'engineer', 'annotator', 'client'];

/**
 * A model-ready input for one item:
 * - image: Uint8Array of height*width*channels bytes (row-major, HWC), already resized to the project's size;
 * - vector: Float32Array of the project's dimension;
 * - text: the raw string (featurised inside models/).
 */
export type ModelInput = Uint8Array | Float32Array | string;
