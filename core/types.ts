/** Shapes shared by every layer. Arrays only: no tf.Tensor crosses a module boundary. */
export type Modality = 'image' | 'text' | 'vector';
export type Role = 'admin' | 'engineer' | 'annotator' | 'client';
export const ROLES: readonly Role[] = ['admin', 'engineer', 'annotator', 'client'];

/**
 * A model-ready input for one item:
 * - image: Uint8Array of height*width*channels bytes (row-major, HWC), already resized to the project's size;
 * - vector: Float32Array of the project's dimension;
 * - text: the raw string (featurised inside models/).
 */
export type ModelInput = Uint8Array | Float32Array | string;
