/**
 * Replays Label Studio's calls to an ML backend (shared/label-studio.md §7.9): health, setup with a
 * "<id>.<timestamp>" project string, predict with several tasks, every webhook action, and checks each answer's
 * status and shape, and that a retrain changes the model_version that /setup and /predict report.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForJob, type TestServer } from '../helpers.ts';

const CONFIG = `<View>
  <Text name="text" value="$review"/>
  <Choices name="sentiment" toName="text" choice="single"><Choice value="good"/><Choice value="bad"/></Choices>
</View>`;

const GOOD = ['lovely tasty great', 'great lovely fresh', 'tasty fresh lovely', 'great great tasty', 'fresh and lovely', 'so tasty and great'];
const BAD = ['awful stale bland', 'stale awful rotten', 'bland rotten awful', 'rotten stale stale', 'awful and bland', 'so stale and rotten'];

let s: TestServer;
let projectId: string;
let engineer: string;
let annotator: string;
let base: string;

function basic(password: string, user = 'label-studio'): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

async function ls(method: string, path: string, body?: unknown, headers: Record<string, string> = basic(engineer)) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json, headers: res.headers };
}

function task(id: number, review: string) {
  return { id, data: { review }, meta: {}, annotations: [], predictions: [], project: 12, is_labeled: false };
}

function annotationEvent(action: string, annotationId: number, taskId: number, review: string, choice: string) {
  return {
    action,
    annotation: {
      id: annotationId,
      result: [{ id: `r${annotationId}`, from_name: 'sentiment', to_name: 'text', type: 'choices', value: { choices: [choice] } }],
      was_cancelled: false,
      task: taskId,
      project: 12,
    },
    task: { id: taskId, data: { review }, project: 12 },
    project: { id: 12, title: 'reviews', label_config: CONFIG },
  };
}

beforeAll(async () => {
  s = await startTestServer();
  const p = await s.call('POST', '/api/projects', {
    body: { name: 'ls', modality: 'text', labels: ['good', 'bad'], settings: { minLabelsToTrain: 6, retrainEvery: 0, goldFraction: 0, seed: 3 } },
  });
  projectId = p.body.id;
  engineer = (await s.call('POST', `/api/projects/${projectId}/keys`, { body: { role: 'engineer', name: 'ls' } })).body.key;
  annotator = (await s.call('POST', `/api/projects/${projectId}/keys`, { body: { role: 'annotator', name: 'ann' } })).body.key;
  base = `${s.url}/label-studio/${projectId}`;
});
afterAll(async () => {
  await s?.stop();
});

describe('Label Studio ML backend', () => {
  it('asks for Basic auth with an engineer key of the project', async () => {
    const none = await ls('GET', '/health', undefined, {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(none.body.detail).toMatch(/Basic/);
    expect(none.body.error.code).toBe('unauthorized');
    const wrong = await ls('GET', '/health', undefined, basic('fw_not_a_key'));
    expect(wrong.status).toBe(401);
    const annotatorKey = await ls('GET', '/health', undefined, basic(annotator));
    expect(annotatorKey.status).toBe(403);
    const other = await s.call('POST', '/api/projects', { body: { name: 'other', modality: 'text', labels: ['a', 'b'] } });
    const otherKey = (await s.call('POST', `/api/projects/${other.body.id}/keys`, { body: { role: 'engineer', name: 'x' } })).body.key;
    expect((await ls('GET', '/health', undefined, basic(otherKey))).status).toBe(403);
    const ok = await ls('GET', '/health');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ status: 'UP', model_class: 'Furrow' });
    expect((await ls('GET', '/health', undefined, { authorization: `Bearer ${engineer}` })).status).toBe(200);
  });

  it('answers /setup with a non-empty model_version and checks the label_config', async () => {
    const setupBody = { project: '12.1700000000', schema: CONFIG, hostname: 'http://localhost:8080', access_token: 'x', extra_params: null };
    const ok = await ls('POST', '/setup', setupBody);
    expect(ok.status).toBe(200);
    expect(ok.body.model_version).toBe('furrow-untrained');
    expect((await ls('POST', '/setup', { ...setupBody, schema: '<View/>' })).status).toBe(200);
    const extra = await ls('POST', '/setup', { ...setupBody, schema: CONFIG.replace('<Choice value="bad"/>', '<Choice value="bad"/><Choice value="meh"/>') });
    expect(extra.status).toBe(400);
    expect(extra.body.detail).toMatch(/Not in Furrow: meh/);
    expect(extra.body.error.code).toBe('label_config_mismatch');
    const image = await ls('POST', '/setup', {
      ...setupBody,
      schema: CONFIG.replace('<Text name="text" value="$review"/>', '<Image name="text" value="$img"/>'),
    });
    expect(image.status).toBe(400);
    expect(image.body.detail).toMatch(/<Image>/);
    const broken = await ls('POST', '/setup', { ...setupBody, schema: '<View><Choices name="x"></View>' });
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('invalid_label_config');
  });

  it('predicts one result per task, in order, before any model (empty results), and stores the tasks', async () => {
    const tasks = [task(1, GOOD[0]), task(2, BAD[0]), { id: 3, data: {} }];
    const r = await ls('POST', '/predict', { tasks, project: '12.1700000000', label_config: CONFIG, params: { login: null, password: null, context: null } });
    expect(r.status).toBe(200);
    expect(r.body.results).toHaveLength(3);
    for (const res of r.body.results) {
      expect(res.model_version).toBe('furrow-untrained');
      expect(res.result).toEqual([]);
      expect(typeof res.score).toBe('number');
    }
    expect(r.body.results[2].error).toMatch(/no "review"/);
    const project = await s.call('GET', `/api/projects/${projectId}`);
    expect(project.body.counts.items).toBe(2);
  });

  it('stores annotations from webhooks, follows updates and deletions, and ignores unknown actions', async () => {
    let id = 100;
    for (const [i, text] of GOOD.entries())
      expect((await ls('POST', '/webhook', annotationEvent('ANNOTATION_CREATED', id++, 10 + i, text, 'good'))).status).toBe(201);
    for (const [i, text] of BAD.entries())
      expect((await ls('POST', '/webhook', annotationEvent('ANNOTATION_CREATED', id++, 20 + i, text, 'bad'))).status).toBe(201);
    // An update of annotation 100 to "bad" and back: a correction each, the item ends "good".
    const upd = await ls('POST', '/webhook', annotationEvent('ANNOTATION_UPDATED', 100, 10, GOOD[0], 'bad'));
    expect(upd.status).toBe(201);
    expect(upd.body.result.label).toBe('bad');
    await ls('POST', '/webhook', annotationEvent('ANNOTATION_UPDATED', 100, 10, GOOD[0], 'good'));
    const item = (await s.call('GET', `/api/projects/${projectId}/items/${upd.body.result.itemId}`)).body;
    expect(item.externalId).toBe('ls-task-10');
    expect(item.labels.map((l: any) => l.label)).toEqual(['good', 'bad', 'good']);

    // A deleted annotation takes its label back; the item is unlabelled again.
    const extra = await ls('POST', '/webhook', annotationEvent('ANNOTATION_CREATED', 999, 99, 'tasty but stale', 'good'));
    const del = await ls('POST', '/webhook', {
      action: 'ANNOTATIONS_DELETED',
      annotations: [{ id: 999 }, { id: 123456 }],
      project: { id: 12, label_config: CONFIG },
    });
    expect(del.status).toBe(200);
    expect(del.body.result.itemsUnlabelled).toBe(1);
    const gone = (await s.call('GET', `/api/projects/${projectId}/items/${extra.body.result.itemId}`)).body;
    expect(gone.status).toBe('pending');

    const cancelled = annotationEvent('ANNOTATION_CREATED', 1000, 98, 'skip me', 'good');
    cancelled.annotation.was_cancelled = true;
    const skip = await ls('POST', '/webhook', cancelled);
    expect(skip.status).toBe(201);
    expect(skip.body.result.stored).toBe(false);

    const unknownLabel = await ls('POST', '/webhook', annotationEvent('ANNOTATION_CREATED', 1001, 97, 'x', 'meh'));
    expect(unknownLabel.status).toBe(400);
    expect(unknownLabel.body.error.code).toBe('unknown_label');
    const unknown = await ls('POST', '/webhook', { action: 'TASKS_DELETED', tasks: [{ id: 1 }], project: { id: 12 } });
    expect(unknown.status).toBe(200);
    expect(unknown.body.status).toBe('Unknown event');
    const noAction = await ls('POST', '/webhook', { project: { id: 12 } });
    expect(noAction.status).toBe(400);
    const notJson = await fetch(`${base}/webhook`, { method: 'POST', headers: { ...basic(engineer), 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as any).detail).toMatch(/JSON/);
  });

  it('trains on START_TRAINING as a job, then /setup and /predict report the new version', async () => {
    const start = await ls('POST', '/webhook', { action: 'START_TRAINING', project: { id: 12, title: 'reviews', label_config: CONFIG } });
    expect(start.status).toBe(201);
    expect(typeof start.body.job).toBe('string');
    const job = await waitForJob(s, start.body.job, engineer);
    expect(job.status).toBe('succeeded');
    const status = await ls('POST', '/job_status', { job: start.body.job });
    expect(status.body.job_status).toBe('succeeded');
    expect((await ls('POST', '/job_status', { job: 'nope' })).status).toBe(410);

    const v1 = (await ls('POST', '/setup', { project: '12.1700000000', schema: CONFIG })).body.model_version;
    expect(v1).toBe('furrow-v1');
    const tasks = [task(1, 'lovely and tasty'), task(2, 'stale and awful'), task(3, 'great fresh')];
    const r = await ls('POST', '/predict', { tasks, project: '12.1700000000', label_config: CONFIG, params: { context: null } });
    expect(r.status).toBe(200);
    expect(r.body.results).toHaveLength(3);
    for (const res of r.body.results) {
      expect(res.model_version).toBe(v1);
      expect(res.score).toBeGreaterThanOrEqual(0);
      expect(res.score).toBeLessThanOrEqual(1);
      expect(res.result).toHaveLength(1);
      expect(res.result[0]).toMatchObject({ from_name: 'sentiment', to_name: 'text', type: 'choices' });
      expect(['good', 'bad']).toContain(res.result[0].value.choices[0]);
    }
    expect(r.body.results[0].result[0].value.choices).toEqual(['good']);
    expect(r.body.results[1].result[0].value.choices).toEqual(['bad']);

    // Legacy "Start training" (POST /train) with the exported tasks: labels stored, a second version trained.
    const legacy = await ls('POST', '/train', {
      annotations: [
        {
          id: 50,
          data: { review: 'fresh tasty lovely' },
          annotations: [{ id: 500, result: [{ from_name: 'sentiment', to_name: 'text', type: 'choices', value: { choices: ['good'] } }] }],
        },
      ],
      project: '12.1700000000',
      label_config: CONFIG,
      params: { login: null, password: null },
    });
    expect(legacy.status).toBe(200);
    expect(legacy.body.labelsStored).toBe(1);
    await waitForJob(s, legacy.body.job, engineer);
    const v2 = (await ls('POST', '/setup', { project: '12.1700000000', schema: CONFIG })).body.model_version;
    expect(v2).toBe('furrow-v2');
    const again = await ls('POST', '/predict', { tasks: [task(1, 'lovely')], label_config: CONFIG });
    expect(again.body.results[0].model_version).toBe(v2);
    expect((await ls('GET', '/versions')).body.versions).toEqual(['furrow-v2', 'furrow-v1']);
    // A rollback is a version change Label Studio must see too.
    await s.call('POST', `/api/projects/${projectId}/models/1/activate`, { key: engineer });
    expect((await ls('POST', '/setup', { project: '12.1700000000', schema: CONFIG })).body.model_version).toBe('furrow-v1');
  });

  it('answers 404 in its shape for a path Label Studio does not use', async () => {
    const r = await ls('POST', '/validate', { config: CONFIG });
    expect(r.status).toBe(404);
    expect(r.body.detail).toMatch(/No Label Studio route/);
  });
});

describe('Label Studio ML backend, image tasks', () => {
  let img: TestServer;
  let fakeLs: Server;
  let lsUrl: string;
  let seen: string[] = [];
  let pid: string;
  let key: string;
  const CONFIG_IMG =
    '<View><Image name="image" value="$image"/><Choices name="label" toName="image"><Choice value="dark"/><Choice value="light"/></Choices></View>';

  beforeAll(async () => {
    const dark = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 10, b: 10 } } })
      .png()
      .toBuffer();
    fakeLs = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
      if (req.headers.authorization !== 'Token legacy123') {
        res.writeHead(401).end();
        return;
      }
      if (req.url?.startsWith('/storage-data/uploaded/?filepath=upload%2F3%2Fdark.png')) {
        res.writeHead(200, { 'content-type': 'image/png' }).end(dark);
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => fakeLs.listen(0, '127.0.0.1', r));
    lsUrl = `http://127.0.0.1:${(fakeLs.address() as AddressInfo).port}`;
    img = await startTestServer({ LABEL_STUDIO_URL: lsUrl, LABEL_STUDIO_API_KEY: 'legacy123' });
    pid = (await img.call('POST', '/api/projects', { body: { name: 'img', modality: 'image', labels: ['dark', 'light'], settings: { goldFraction: 0 } } })).body
      .id;
    key = (await img.call('POST', `/api/projects/${pid}/keys`, { body: { role: 'engineer', name: 'e' } })).body.key;
  });
  afterAll(async () => {
    await img?.stop();
    await new Promise((r) => fakeLs?.close(r));
  });

  it('fetches uploads from Label Studio with its token, and a task whose image cannot be fetched still gets its entry', async () => {
    seen = [];
    const res = await fetch(`${img.url}/label-studio/${pid}/predict`, {
      method: 'POST',
      headers: { ...basic(key), 'content-type': 'application/json' },
      body: JSON.stringify({
        tasks: [
          { id: 1, data: { image: '/data/upload/3/dark.png' } },
          { id: 2, data: { image: '/data/upload/3/missing.png' } },
        ],
        label_config: CONFIG_IMG,
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.results).toHaveLength(2);
    expect(body.results[1].result).toEqual([]);
    expect(body.results[1].error).toMatch(/404/);
    expect(seen[0]).toMatch(/Token legacy123$/);
    const project = await img.call('GET', `/api/projects/${pid}`);
    expect(project.body.counts.items).toBe(1);
  });
});
