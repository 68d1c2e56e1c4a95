/**
 * Item embeddings under one model version, kept between queue requests. During an image project's cold start
 * every queue request embeds about a thousand sampled items (the servable ones first in the project's random
 * order, so mostly the same ones each time) and the labelled ones; with the cache only items it has not seen
 * under the active version go to the model. One version per project: a newer version replaces the project's
 * entry. At most `maxRows` rows in all; past that, other projects' entries are dropped first, oldest first.
 */
export interface Embeddings {
  dim: number;
  data: Float32Array;
}

interface Entry {
  version: number;
  dim: number;
  rows: Map<string, Float32Array>;
}

export class EmbeddingCache {
  private readonly byProject = new Map<string, Entry>();
  private size = 0;

  constructor(private readonly maxRows = 50_000) {}

  /** Rows cached now, over all projects. */
  get rows(): number {
    return this.size;
  }

  /**
   * Embeddings of `ids` (in order) under `version`; `compute` gets the positions of the ids not cached and
   * returns their embeddings in that order.
   */
  async get(projectId: string, version: number, ids: readonly string[], compute: (missing: number[]) => Promise<Embeddings>): Promise<Embeddings> {
    let entry = this.byProject.get(projectId);
    if (!entry || entry.version !== version) {
      if (entry) this.drop(projectId);
      entry = { version, dim: 0, rows: new Map() };
      this.byProject.set(projectId, entry);
    }
    const missing: number[] = [];
    ids.forEach((id, i) => {
      if (!entry.rows.has(id)) missing.push(i);
    });
    const fresh = missing.length ? await compute(missing) : undefined;
    const dim = fresh?.dim ?? entry.dim;
    const out = new Float32Array(ids.length * dim);
    const isMissing = new Map(missing.map((i, j) => [i, j]));
    ids.forEach((id, i) => {
      const j = isMissing.get(i);
      out.set(j === undefined ? entry.rows.get(id)! : fresh!.data.subarray(j * dim, (j + 1) * dim), i * dim);
    });
    // Another request may have replaced the entry (a newer version) while the model worked: keep nothing then.
    if (fresh && this.byProject.get(projectId) === entry) {
      entry.dim = dim;
      this.makeRoom(projectId, missing.length);
      for (const [i, j] of isMissing) {
        if (this.size >= this.maxRows) break;
        if (entry.rows.has(ids[i])) continue;
        entry.rows.set(ids[i], fresh.data.slice(j * dim, (j + 1) * dim));
        this.size++;
      }
    }
    return { dim, data: out };
  }

  /**
   * Adds rows computed elsewhere (at ingest, before the first queue request asks for them); nothing when the
   * project's entry holds another version (a model arrived meanwhile) or the cache is full.
   */
  put(projectId: string, version: number, ids: readonly string[], emb: Embeddings): void {
    let entry = this.byProject.get(projectId);
    if (entry && entry.version !== version) return;
    if (!entry) {
      entry = { version, dim: emb.dim, rows: new Map() };
      this.byProject.set(projectId, entry);
    }
    entry.dim = emb.dim;
    this.makeRoom(projectId, ids.length);
    ids.forEach((id, i) => {
      if (this.size >= this.maxRows || entry.rows.has(id)) return;
      entry.rows.set(id, emb.data.slice(i * emb.dim, (i + 1) * emb.dim));
      this.size++;
    });
  }

  /** Forgets a project's embeddings. */
  drop(projectId: string): void {
    const entry = this.byProject.get(projectId);
    if (!entry) return;
    this.size -= entry.rows.size;
    this.byProject.delete(projectId);
  }

  private makeRoom(keep: string, wanted: number): void {
    for (const id of [...this.byProject.keys()]) {
      if (this.size + wanted <= this.maxRows) return;
      if (id !== keep) this.drop(id);
    }
  }
}
