/**
 * Builds the model benchmark's tasks from Debian packages (and the fine-foods set in ../shared/datasets):
 * seeded and deterministic for a given set of installed packages. Writes, per task, into
 * ${FURROW_BENCH_DATA:-/var/tmp/furrow-bench-data}:
 *   <task>.train.jsonl   the unlabelled pool, one {"text"|"image", "label"} a line
 *   <task>.test.jsonl    the gold set (never overlapping the pool: see each builder)
 *   <task>.meta.json     sources, sizes, class counts
 *
 * Needs (once, as root; docs/benchmarks-models.md):
 *   apt-get install -y wordnet-base manpages manpages-dev man-db adwaita-icon-theme papirus-icon-theme \
 *     hicolor-icon-theme fonts-dejavu-core fonts-liberation fonts-freefont-ttf dataset-fashion-mnist && mandb -q
 *
 *   npm run bench:data                          # every task
 *   npm run bench:data -- --tasks glyphs,icons  # some
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { encodePngBase64 } from '../pipelines/image-decode.ts';
import { FASHION_MNIST_LABELS, loadFashionMnist, loadFineFoods } from './lib/datasets.ts';
import { mulberry32, shuffle, stratifiedSample } from './lib/sampling.ts';
import { BENCH_TASKS, benchDataDir, type TaskRow } from './lib/bench-tasks.ts';
import { cleanMessage, iconKey, parseMoFile, parseWhatisLine, parseWordnetDataLine } from './lib/bench-sources.ts';

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string', default: BENCH_TASKS.map((t) => t.name).join(',') },
    out: { type: 'string' },
    seed: { type: 'string', default: '13' },
    pool: { type: 'string', default: '4000' },
    test: { type: 'string', default: '1000' },
  },
});
const OUT = args.out ?? benchDataDir();
const SEED = Number(args.seed);
const POOL = Number(args.pool);
const TEST = Number(args.test);
const log = (m: string) => process.stderr.write(m + '\n');

interface Built {
  pool: TaskRow[];
  test: TaskRow[];
  source: string;
  notes?: string;
}

function counts(rows: TaskRow[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of rows) c[r.label] = (c[r.label] ?? 0) + 1;
  return Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)));
}

function write(task: string, b: Built) {
  fs.mkdirSync(OUT, { recursive: true });
  const dump = (rows: TaskRow[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  fs.writeFileSync(path.join(OUT, `${task}.train.jsonl`), dump(b.pool));
  fs.writeFileSync(path.join(OUT, `${task}.test.jsonl`), dump(b.test));
  const meta = {
    task,
    seed: SEED,
    source: b.source,
    notes: b.notes,
    poolSize: b.pool.length,
    testSize: b.test.length,
    classes: Object.keys(counts([...b.pool, ...b.test])).length,
    poolCounts: counts(b.pool),
    testCounts: counts(b.test),
  };
  fs.writeFileSync(path.join(OUT, `${task}.meta.json`), JSON.stringify(meta, null, 2) + '\n');
  log(`${task}: pool ${b.pool.length}, test ${b.test.length}, ${meta.classes} classes -> ${OUT}`);
}

/**
 * A seeded pool/test split of distinct examples: `test` rows drawn at random (class-stratified), the pool from
 * the rest (at most `pool`, stratified too, so the class mix is the source's).
 */
function split(rows: TaskRow[], seed: number, pool = POOL, test = TEST): { pool: TaskRow[]; test: TaskRow[] } {
  const labels = rows.map((r) => r.label);
  const testIdx = new Set(stratifiedSample(labels, { total: Math.min(test, Math.floor(rows.length / 3)) }, seed));
  const rest = rows.filter((_, i) => !testIdx.has(i));
  const poolIdx = stratifiedSample(
    rest.map((r) => r.label),
    { total: Math.min(pool, rest.length) },
    seed + 1,
  );
  return {
    pool: shuffle(
      poolIdx.map((i) => rest[i]),
      seed + 2,
    ),
    test: shuffle(
      [...testIdx].map((i) => rows[i]),
      seed + 3,
    ),
  };
}

/** At most `cap` rows of each class, chosen at random (seeded); classes below `min` rows are dropped. */
function capPerClass(rows: TaskRow[], cap: number, seed: number, min = 1): TaskRow[] {
  const by = new Map<string, TaskRow[]>();
  for (const r of rows) by.set(r.label, [...(by.get(r.label) ?? []), r]);
  const rand = mulberry32(seed);
  const out: TaskRow[] = [];
  for (const label of [...by.keys()].sort()) {
    const list = by.get(label)!;
    if (list.length >= min) out.push(...shuffle(list, rand).slice(0, cap));
  }
  return out;
}

/** Drops texts that occur with more than one label, and repeats of a text (keeps its first label). */
function dedupeTexts(rows: TaskRow[]): TaskRow[] {
  const labelsOf = new Map<string, Set<string>>();
  for (const r of rows) {
    const k = r.text!.toLowerCase();
    labelsOf.set(k, (labelsOf.get(k) ?? new Set()).add(r.label));
  }
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = r.text!.toLowerCase();
    if (labelsOf.get(k)!.size > 1 || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

async function fineFoods(): Promise<Built> {
  const [tr, te] = await Promise.all([loadFineFoods('train'), loadFineFoods('test')]);
  const rows = (d: typeof tr) => d.texts.map((text, i) => ({ text, label: d.labels[i] }));
  return { pool: rows(tr), test: rows(te), source: '../shared/datasets/fine-foods.{train,test}.jsonl as they are (4,000 / 1,000)' };
}

function wordnet(): Built {
  const file = '/usr/share/wordnet/data.noun';
  if (!fs.existsSync(file)) throw new Error(`${file} not found: apt-get install -y wordnet-base`);
  const rows: TaskRow[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const s = parseWordnetDataLine(line);
    if (s) rows.push({ text: s.gloss, label: s.lexFile });
  }
  const sample = shuffle(dedupeTexts(rows), SEED).slice(0, POOL + TEST);
  return {
    ...split(sample, SEED),
    source: `${file} (wordnet-base): every noun synset's gloss (definition and examples) labelled with its lexicographer file; ${rows.length} synsets, ${POOL + TEST} drawn at random (natural class mix)`,
  };
}

function manpages(): Built {
  let out: string;
  try {
    out = execFileSync('apropos', ['-l', '.'], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: 'C.UTF-8', MANWIDTH: '1000' } });
  } catch (err) {
    throw new Error(`apropos failed (apt-get install -y man-db manpages manpages-dev && mandb -q): ${(err as Error).message}`);
  }
  const keep = new Set(['1', '2', '3', '4', '5', '7', '8']);
  const rows: TaskRow[] = [];
  for (const line of out.split('\n')) {
    const e = parseWhatisLine(line);
    if (e && keep.has(e.mainSection)) rows.push({ text: e.description, label: `section ${e.mainSection}` });
  }
  rows.sort((a, b) => (a.text! < b.text! ? -1 : a.text! > b.text! ? 1 : a.label.localeCompare(b.label)));
  const distinct = dedupeTexts(rows);
  // Sections 1 and 3 have thousands of pages (every installed program, Perl's modules); cap them so the
  // small sections are not a rounding error.
  const capped = capPerClass(distinct, 1400, SEED);
  return {
    ...split(capped, SEED, POOL, TEST),
    source: `\`apropos -l .\` (man-db index of every installed manual page: manpages, manpages-dev and the pages of the other installed packages), main sections 1,2,3,4,5,7,8; ${rows.length} lines, ${distinct.length} distinct descriptions (a description under two sections is dropped), at most 1,400 per section`,
  };
}

const LANGS = ['cs', 'da', 'de', 'es', 'fi', 'fr', 'it', 'nl', 'pl', 'pt', 'sv', 'tr'];
function uiLanguage(): Built {
  const root = '/usr/share/locale';
  const records: { id: string; lang: string; text: string }[] = [];
  for (const lang of LANGS) {
    const dir = path.join(root, lang, 'LC_MESSAGES');
    if (!fs.existsSync(dir)) throw new Error(`${dir} not found: no ${lang} catalogues installed`);
    // iso_* catalogues are country/currency/language names, not sentences.
    for (const f of fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.mo') && !f.startsWith('iso'))
      .sort()) {
      for (const m of parseMoFile(fs.readFileSync(path.join(dir, f)))) {
        const text = cleanMessage(m.id, m.str);
        if (text) records.push({ id: m.id, lang, text });
      }
    }
  }
  // Each English source message is used once, in one language: a message's translations are near copies
  // of each other in structure, and one in the pool and another in the test set would leak.
  const perLang = Math.ceil((POOL + TEST) / LANGS.length);
  const have = new Map<string, number>();
  const usedIds = new Set<string>();
  const usedTexts = new Set<string>();
  const rows: TaskRow[] = [];
  for (const r of shuffle(records, SEED)) {
    if (usedIds.has(r.id) || usedTexts.has(r.text) || (have.get(r.lang) ?? 0) >= perLang) continue;
    usedIds.add(r.id);
    usedTexts.add(r.text);
    have.set(r.lang, (have.get(r.lang) ?? 0) + 1);
    rows.push({ text: r.text, label: r.lang });
  }
  return {
    ...split(rows, SEED),
    source: `${root}/<lang>/LC_MESSAGES/*.mo (gettext catalogues of the installed packages, iso_* excluded) for ${LANGS.join(', ')}: translated messages of at least 4 words, format specifiers and mnemonics removed; ${records.length} candidates; each English source message used at most once in one language`,
    notes: 'The set of catalogues depends on the installed packages: rebuild on the same image for identical files.',
  };
}

async function fashionMnist(): Promise<Built> {
  const [tr, te] = await Promise.all([loadFashionMnist('train'), loadFashionMnist('test')]);
  const rows = (d: typeof tr, idx: number[]) => idx.map((i) => ({ image: encodePngBase64(d.images[i], 28, 28, 1), label: FASHION_MNIST_LABELS[d.labels[i]] }));
  const poolIdx = shuffle(stratifiedSample(tr.labels, { total: POOL }, SEED), SEED);
  const testIdx = shuffle(stratifiedSample(te.labels, { total: TEST }, SEED), SEED);
  return {
    pool: rows(tr, poolIdx),
    test: rows(te, testIdx),
    source: `/usr/share/datasets/fashion-mnist (dataset-fashion-mnist): pool ${POOL} of the 60,000 train images, test ${TEST} of the 10,000 test images, class-stratified`,
  };
}

const ICON_THEMES = ['Adwaita', 'Papirus', 'hicolor'];
// Not `categories`: Papirus files its app icons there too (3,700 names in both), so it is no class of its own.
const ICON_CONTEXTS = ['actions', 'apps', 'devices', 'emblems', 'emotes', 'mimetypes', 'places', 'status'];
async function icons(): Promise<Built> {
  const byKey = new Map<string, { files: string[]; contexts: Set<string> }>();
  let nFiles = 0;
  for (const theme of ICON_THEMES) {
    const root = path.join('/usr/share/icons', theme);
    if (!fs.existsSync(root)) throw new Error(`${root} not found: apt-get install -y adwaita-icon-theme papirus-icon-theme hicolor-icon-theme`);
    for (const sizeDir of fs.readdirSync(root).sort()) {
      for (const ctx of ICON_CONTEXTS) {
        const dir = path.join(root, sizeDir, ctx);
        if (!fs.existsSync(dir)) continue;
        for (const f of fs.readdirSync(dir).sort()) {
          const file = path.join(dir, f);
          // Symlinks are aliases of another icon (Papirus has thousands): one file, one example.
          if (!/\.(svg|png)$/.test(f) || fs.lstatSync(file).isSymbolicLink()) continue;
          nFiles++;
          const k = iconKey(f);
          const e = byKey.get(k) ?? { files: [], contexts: new Set() };
          e.files.push(file);
          e.contexts.add(ctx);
          byKey.set(k, e);
        }
      }
    }
  }
  // One example per icon name (a random file of it: any theme, any size), names filed under two contexts
  // dropped; so no icon is both in the pool and in the test set, in another size or theme.
  const rand = mulberry32(SEED);
  const candidates: { file: string; label: string }[] = [];
  for (const [, e] of [...byKey].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (e.contexts.size !== 1) continue;
    candidates.push({ file: e.files[Math.floor(rand() * e.files.length)], label: [...e.contexts][0] });
  }
  const sizes = new Map<string, number>();
  for (const c of candidates) sizes.set(c.label, (sizes.get(c.label) ?? 0) + 1);
  // The smallest per-class cap that still gives pool + test examples (the big contexts are capped, small ones kept whole).
  let cap = 1;
  while (cap < candidates.length && [...sizes.values()].reduce((a, n) => a + (n >= 60 ? Math.min(n, cap) : 0), 0) < POOL + TEST) cap++;
  const picked = capPerClass(candidates as unknown as TaskRow[], cap, SEED, 60) as unknown as { file: string; label: string }[];
  const rows: TaskRow[] = [];
  for (const c of picked) {
    try {
      let img = sharp(c.file, { density: 72 });
      const m = await img.metadata();
      // Native size, but nothing over 128 px (a few 256/512 px PNGs would dominate the file size).
      if ((m.width ?? 0) > 128 || (m.height ?? 0) > 128) img = img.resize(128, 128, { fit: 'inside' });
      const png = await img.flatten({ background: '#ffffff' }).removeAlpha().png().toBuffer();
      rows.push({ image: png.toString('base64'), label: c.label });
    } catch (err) {
      log(`  skipped ${c.file}: ${(err as Error).message}`);
    }
  }
  return {
    ...split(rows, SEED),
    source: `/usr/share/icons/{${ICON_THEMES.join(',')}}/<size>/<context>/*.{svg,png} (not symlinks): ${nFiles} files, ${byKey.size} distinct names; one random file per name; rendered by sharp at native size (SVG at 72 dpi, at most 128 px), flattened on white, RGB PNG`,
  };
}

const FONTS: { family: string; weight: string; style: string }[] = [];
for (const family of [
  'DejaVu Sans',
  'DejaVu Serif',
  'DejaVu Sans Mono',
  'Liberation Sans',
  'Liberation Serif',
  'Liberation Mono',
  'Liberation Sans Narrow',
  'FreeSans',
  'FreeSerif',
  'FreeMono',
]) {
  for (const weight of ['normal', 'bold']) for (const style of ['normal', 'italic']) FONTS.push({ family, weight, style });
}
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');

async function glyphs(): Promise<Built> {
  const rand = mulberry32(SEED);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const n = POOL + TEST;
  const rows: TaskRow[] = [];
  for (let i = 0; i < n; i++) {
    const letter = LETTERS[i % LETTERS.length];
    const f = FONTS[Math.floor(rand() * FONTS.length)];
    const angle = (rand() * 2 - 1) * 20;
    const size = 30 + rand() * 22;
    const dx = (rand() * 2 - 1) * 5;
    const dy = (rand() * 2 - 1) * 5;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="56" height="56"><rect width="56" height="56" fill="#000"/><g transform="translate(${28 + dx} ${28 + dy}) rotate(${angle.toFixed(2)})"><text x="0" y="0" font-family="${f.family}" font-weight="${f.weight}" font-style="${f.style}" font-size="${size.toFixed(1)}" fill="#fff" text-anchor="middle" dominant-baseline="central">${letter}</text></g></svg>`;
    const raw = await sharp(Buffer.from(svg)).flatten({ background: '#000000' }).resize(28, 28).greyscale().raw().toBuffer();
    const sd = 10 + rand() * 30;
    const px = new Uint8Array(28 * 28);
    for (let p = 0; p < px.length; p++) px[p] = Math.max(0, Math.min(255, Math.round(raw[p * (raw.length / px.length)] + gauss() * sd)));
    rows.push({ image: encodePngBase64(px, 28, 28, 1), label: letter });
  }
  const order = shuffle(rows, SEED);
  return {
    pool: order.slice(0, POOL),
    test: order.slice(POOL),
    source: `capital letters A-Z (balanced) rendered by sharp (librsvg, fontconfig) in ${FONTS.length} faces of DejaVu, Liberation and FreeFont (regular/bold x upright/italic), white on black, rotation within ±20°, size 30-52 px on a 56 px canvas, offset within ±5 px, resized to 28x28 gray, Gaussian pixel noise sd 10-40; all seeded`,
  };
}

const BUILDERS: Record<string, () => Built | Promise<Built>> = {
  'fine-foods': fineFoods,
  'wordnet-nouns': wordnet,
  manpages,
  'ui-language': uiLanguage,
  'fashion-mnist': fashionMnist,
  icons,
  glyphs,
};

async function main() {
  for (const task of args
    .tasks!.split(',')
    .map((t) => t.trim())
    .filter(Boolean)) {
    const build = BUILDERS[task];
    if (!build) throw new Error(`unknown task ${task}: ${Object.keys(BUILDERS).join(', ')}`);
    const t0 = performance.now();
    write(task, await build());
    log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
