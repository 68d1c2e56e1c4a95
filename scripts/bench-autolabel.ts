/**
 * Auto-labelling benchmark: label a whole Fashion-MNIST training set through the real service — humans
 * (an oracle that answers from the queue, wrong on purpose `--flip` of the time) until every item is either
 * human-labelled or auto-labelled under the accuracy target. After every round of human labels the labels are
 * audited and a second reviewer (who answers right) works the disputed queue, as a team using Furrow would:
 * the held-out labels that judge the auto labels are human too, and 5% noise in them alone would keep any
 * measured accuracy near 0.95. Scores the label-error detection on the flipped answers over all audits.
 * Prints JSON.
 *
 *   npm run bench:autolabel -- [--pool 60000] [--seeds 1] [--first-seed 1] [--target 0.95] [--batch 500] [--budget 6000] [--flip 0.05] [--no-review]
 */
import { parseArgs } from 'node:util';
import { encodePngBase64 } from '../pipelines/image-decode.ts';
import { FASHION_MNIST_LABELS, loadFashionFixture, loadFashionMnist } from './lib/datasets.ts';
import { startHarness, trainAndWait } from './lib/harness.ts';
import { mulberry32, shuffle } from './lib/sampling.ts';
import { round } from './lib/round.ts';

const { values: args } = parseArgs({
  options: {
    pool: { type: 'string', default: '60000' },
    seeds: { type: 'string', default: '1' },
    'first-seed': { type: 'string', default: '1' },
    target: { type: 'string', default: '0.95' },
    batch: { type: 'string', default: '500' },
    budget: { type: 'string', default: '6000' },
    flip: { type: 'string', default: '0.05' },
    'gold-fraction': { type: 'string', default: '0.1' },
    'no-review': { type: 'boolean', default: false },
    fixture: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});
const log = args.quiet ? () => {} : (m: string) => process.stderr.write(m + '\n');

async function runSeed(seed: number, data: Awaited<ReturnType<typeof loadFashionMnist>>) {
  const t0 = performance.now();
  const poolIdx = shuffle([...data.labels.keys()], seed).slice(0, Number(args.pool));
  const h = await startHarness();
  try {
    const P = (
      await h.call('POST', '/api/projects', {
        name: `autolabel-${seed}`,
        modality: 'image',
        labels: FASHION_MNIST_LABELS,
        settings: {
          retrainEvery: 0,
          auditEvery: 0,
          seed,
          goldFraction: Number(args['gold-fraction']),
          autoLabel: { enabled: true, targetAccuracy: Number(args.target) },
        },
      })
    ).id;
    const reviewer = (await h.call('POST', `/api/projects/${P}/keys`, { role: 'annotator', name: 'second reviewer' })).key as string;
    const ids = await h.ingest(
      P,
      poolIdx.map((i, j) => ({ externalId: `p${j}`, image: encodePngBase64(data.images[i], 28, 28, 1) })),
    );
    const truth = new Map([...ids].map(([id, ext]) => [id, FASHION_MNIST_LABELS[data.labels[poolIdx[Number(ext.slice(1))]]]]));
    log(`seed ${seed}: ${truth.size} items ingested (${Math.round((performance.now() - t0) / 1000)} s)`);

    const rnd = mulberry32(seed * 7919);
    const flipped = new Set<string>();
    /** Every label an audit disputed, and whether it was a flipped one then. */
    const flagged = new Map<string, boolean>();
    const flippedEver = new Set<string>();
    let human = 0;
    let reviewed = 0;
    /** Per audit: human labels so far, labels it disputed for the first time, and how many of those were flips. */
    const audits: { humanLabels: number; newlyDisputed: number; flipsAmongThem: number }[] = [];
    /** Audits the labels, then the second reviewer answers every disputed item with its true label. */
    const auditAndReview = async () => {
      const audit0 = flagged.size;
      const hits0 = [...flagged.values()].filter(Boolean).length;
      const { jobId } = await h.call('POST', `/api/projects/${P}/audit`, {});
      await h.idle(P);
      const audit = await h.call('GET', `/api/jobs/${jobId}`);
      if (audit.status !== 'succeeded') throw new Error(`audit failed: ${audit.error}`);
      for (;;) {
        const { items: disputes } = (await h.call('GET', `/api/projects/${P}/queue?kind=disputed&limit=100`, undefined, reviewer)) as {
          items: { id: string }[];
        };
        if (!disputes.length) break;
        for (const d of disputes) {
          if (!flagged.has(d.id)) flagged.set(d.id, flipped.has(d.id));
          await h.call('POST', `/api/projects/${P}/items/${d.id}/label`, { label: truth.get(d.id) }, reviewer);
          flipped.delete(d.id);
          reviewed++;
        }
      }
      audits.push({ humanLabels: human, newlyDisputed: flagged.size - audit0, flipsAmongThem: [...flagged.values()].filter(Boolean).length - hits0 });
    };
    const rounds = [];
    for (;;) {
      const project = await h.call('GET', `/api/projects/${P}`);
      if (project.counts.pending === 0 || human >= Number(args.budget)) break;
      const want = Math.min(Number(args.batch), Number(args.budget) - human);
      let done = 0;
      while (done < want) {
        const { items } = await h.call('GET', `/api/projects/${P}/queue?limit=${Math.min(100, want - done)}`);
        if (!items.length) break;
        for (const it of items) {
          let label = truth.get(it.id)!;
          if (rnd() < Number(args.flip)) {
            const others = FASHION_MNIST_LABELS.filter((l) => l !== label);
            label = others[Math.floor(rnd() * others.length)];
            flipped.add(it.id);
            flippedEver.add(it.id);
          }
          await h.call('POST', `/api/projects/${P}/items/${it.id}/label`, { label });
          done++;
        }
      }
      human += done;
      if (done === 0) break;
      if (!args['no-review']) await auditAndReview();
      await trainAndWait(h, P);
      const m = await h.call('GET', `/api/projects/${P}/metrics`);
      rounds.push({
        humanLabels: human,
        goldAccuracy: m.gold.accuracy,
        autoLabeled: m.autoLabel.items,
        pending: m.labels.pending,
        estimated: m.autoLabel.estimatedAccuracy,
        interval: m.autoLabel.interval,
      });
      log(
        `seed ${seed}: ${human} human → gold ${m.gold.accuracy}, auto ${m.autoLabel.items}, pending ${m.labels.pending} (${Math.round((performance.now() - t0) / 1000)} s)`,
      );
    }

    // With review, every human label has been audited already, each round's right after it (auditing the same
    // labels again would only redraw the folds and dispute some correct ones anew). Without, one audit now.
    if (args['no-review']) await auditAndReview();
    const hits = [...flagged.values()].filter(Boolean).length;

    const rows = (await h.call('GET', `/api/projects/${P}/export?format=jsonl`))
      .trim()
      .split('\n')
      .map((l: string) => JSON.parse(l));
    const auto = rows.filter((r: any) => r.source === 'auto');
    const labelled = rows.filter((r: any) => r.label !== null);
    const right = (rs: any[]) => rs.filter((r) => truth.get(r.id) === r.label).length;
    const m = await h.call('GET', `/api/projects/${P}/metrics`);
    return {
      seed,
      items: truth.size,
      humanLabels: human,
      humanShare: round(human / truth.size),
      autoLabeled: auto.length,
      unlabelled: truth.size - labelled.length,
      fullyLabelled: labelled.length === truth.size,
      autoLabelAccuracy: auto.length ? round(right(auto) / auto.length) : null,
      target: Number(args.target),
      estimatedAutoLabelAccuracy: m.autoLabel.estimatedAccuracy,
      estimatedInterval: m.autoLabel.interval,
      labelledSetAccuracy: round(right(labelled) / labelled.length),
      goldAccuracy: m.gold.accuracy,
      labelErrors: {
        flipped: flippedEver.size,
        flagged: flagged.size,
        precision: flagged.size ? round(hits / flagged.size) : null,
        recall: flippedEver.size ? round(hits / flippedEver.size) : null,
        reviewed,
        flipsLeft: flipped.size,
        audits,
      },
      review: !args['no-review'],
      rounds,
      seconds: Math.round((performance.now() - t0) / 1000),
    };
  } finally {
    await h.close();
  }
}

const data = args.fixture ? await loadFashionFixture('train') : await loadFashionMnist('train');
const runs = [];
const first = Number(args['first-seed']);
for (let s = first; s < first + Number(args.seeds); s++) runs.push(await runSeed(s, data));
process.stdout.write(JSON.stringify({ benchmark: 'autolabel', dataset: 'fashion-mnist', runs }, null, 2) + '\n');
