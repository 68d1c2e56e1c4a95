/**
 * Label Studio JSON in and out: a 10,000-task export imports (with annotation history and ground truth),
 * export -> import -> export loses no label, JSON-MIN and CSV have Label Studio's shape, bad files change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLabelConfig } from '../../pipelines/label-studio/label-config.ts';
import { startTestServer, type TestServer } from '../helpers.ts';

let s: TestServer;

async function project(name: string): Promise<string> {
  const r = await s.call('POST', '/api/projects', {
    body: { name, modality: 'text', labels: ['pos', 'neg', 'neutral'], settings: { retrainEvery: 0, goldFraction: 0 } },
  });
  return r.body.id;
}

function choice(id: number, label: string, at: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    result: [{ id: `r${id}`, from_name: 'sentiment', to_name: 'text', type: 'choices', value: { choices: [label] } }],
    was_cancelled: false,
    ground_truth: false,
    created_at: at,
    updated_at: at,
    ...extra,
  };
}

/** A Label Studio export: every 3rd task unlabelled, every 5th with a later correction, every 50th ground truth, every 7th a skip. */
function lsExport(n: number) {
  const labels = ['pos', 'neg', 'neutral'];
  return Array.from({ length: n }, (_, i) => {
    const annotations = [];
    if (i % 3 !== 0) annotations.push(choice(100_000 + i, labels[i % 3], '2026-01-01T10:00:00Z', i % 50 === 1 ? { ground_truth: true } : {}));
    if (i % 5 === 1 && i % 50 !== 1) annotations.push(choice(200_000 + i, labels[(i + 1) % 3], '2026-01-02T10:00:00Z'));
    if (i % 7 === 2) annotations.push({ id: 300_000 + i, result: [], was_cancelled: true, created_at: '2026-01-03T10:00:00Z' });
    return { id: i + 1, data: { text: `review number ${i} says ${labels[i % 3]}` }, annotations, predictions: [], meta: {} };
  });
}

const CONFIG =
  '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/><Choice value="neutral"/></Choices></View>';

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.stop();
});

describe('Label Studio task JSON', () => {
  it('gives a label_config that matches the project', async () => {
    const id = await project('config');
    const r = await s.call('GET', `/api/projects/${id}/label-studio/config`);
    expect(r.status).toBe(200);
    expect(checkLabelConfig(r.body.labelConfig, { modality: 'text', labels: ['pos', 'neg', 'neutral'] })?.fromName).toBe('label');
  });

  it('imports a 10,000-task export with its history, and export -> import -> export loses no label', async () => {
    const a = await project('from-ls');
    const tasks = lsExport(10_000);
    const t0 = Date.now();
    const imp = await s.call('POST', `/api/projects/${a}/label-studio/import`, { body: { tasks, labelConfig: CONFIG } });
    const seconds = (Date.now() - t0) / 1000;
    console.log(JSON.stringify({ labelStudioImport: { tasks: 10_000, seconds } }));
    expect(imp.status).toBe(202);
    const labelled = tasks.filter((_, i) => i % 3 !== 0).length;
    const corrections = tasks.filter((_, i) => i % 3 !== 0 && i % 5 === 1 && i % 50 !== 1).length;
    const orphanCorrections = tasks.filter((_, i) => i % 3 === 0 && i % 5 === 1 && i % 50 !== 1).length;
    expect(imp.body).toMatchObject({ tasks: 10_000, accepted: 10_000, duplicates: 0, rejected: [] });
    expect(imp.body.labels).toBe(labelled + corrections + orphanCorrections);

    const again = await s.call('POST', `/api/projects/${a}/label-studio/import`, { body: tasks });
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 10_000, labels: 0 });

    const item = (await s.call('GET', `/api/projects/${a}/export?format=jsonl`)).text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const task12 = item.find((r) => r.externalId === 'ls-task-12');
    expect(task12.label).toBe('pos'); // i=11: "neutral", corrected the next day to "pos"
    expect(item.filter((r) => r.split === 'gold')).toHaveLength(tasks.filter((_, i) => i % 50 === 1 && i % 3 !== 0).length);

    const out1 = (await s.call('GET', `/api/projects/${a}/label-studio/export`)).body as any[];
    expect(out1).toHaveLength(10_000);
    const t12 = out1.find((t) => t.id === 12);
    expect(t12.annotations.map((x: any) => x.result[0].value.choices[0])).toEqual(['neutral', 'pos']);
    expect(t12.data.text).toBe(tasks[11].data.text);

    const b = await project('round-trip');
    const imp2 = await s.call('POST', `/api/projects/${b}/label-studio/import`, { body: out1 });
    expect(imp2.status).toBe(202);
    const out2 = (await s.call('GET', `/api/projects/${b}/label-studio/export`)).body as any[];
    const labelsOf = (ts: any[]) => new Map(ts.map((t) => [t.id, t.annotations.map((x: any) => x.result[0].value.choices[0]).join('>')]));
    expect(labelsOf(out2)).toEqual(labelsOf(out1));
    const gold = (ts: any[]) => ts.filter((t) => t.annotations.some((x: any) => x.ground_truth)).map((t) => t.id);
    expect(gold(out2)).toEqual(gold(out1));
  });

  it('exports JSON-MIN (one record per annotation, newest first) and CSV with Label Studio quoting', async () => {
    const id = await project('min');
    await s.call('POST', `/api/projects/${id}/label-studio/import`, { body: lsExport(13) });
    const min = (await s.call('GET', `/api/projects/${id}/label-studio/export?format=json-min`)).body as any[];
    expect(min.filter((r) => r.id === 12).map((r) => r.label)).toEqual(['pos', 'neutral']);
    expect(min.filter((r) => r.id === 1)).toEqual([{ text: 'review number 0 says pos', id: 1 }]);
    const csv = await s.call('GET', `/api/projects/${id}/label-studio/export?format=csv`);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('"annotation_id","annotator","created_at","id","label","lead_time","text","updated_at"');
    expect(lines).toHaveLength(min.length + 1);
    expect(lines.some((l) => /^\d+,"","[^"]+",12,"pos","","review number 11 says neutral"/.test(l))).toBe(true);
  });

  it('refuses a bad file and stores nothing', async () => {
    const id = await project('bad');
    const unknown = await s.call('POST', `/api/projects/${id}/label-studio/import`, {
      body: [...lsExport(3), { id: 9, data: { text: 'x' }, annotations: [choice(1, 'meh', '2026-01-01T00:00:00Z')] }],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.rejected[0]).toMatchObject({ index: 3 });
    expect(unknown.body.error.details.rejected[0].error).toMatch(/Unknown label "meh"/);
    const noData = await s.call('POST', `/api/projects/${id}/label-studio/import`, { body: [{ id: 1 }] });
    expect(noData.status).toBe(400);
    expect((await s.call('POST', `/api/projects/${id}/label-studio/import`, { body: { tasks: 'x' } })).status).toBe(400);
    expect((await s.call('GET', `/api/projects/${id}`)).body.counts.items).toBe(0);
    const partial = await s.call('POST', `/api/projects/${id}/label-studio/import?partial=true`, { body: [...lsExport(3), { id: 9, data: {} }] });
    expect(partial.body).toMatchObject({ accepted: 3, rejected: [{ index: 3 }] });
  });
});
