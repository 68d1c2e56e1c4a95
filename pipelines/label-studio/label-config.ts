/**
 * Reads a Label Studio `label_config` (XML) the way Label Studio's SDK does (`parse_config`, see
 * shared/label-studio.md §2.5): a control tag has `name` and `toName`, an object tag has `name` and `value`
 * (`$image` names the task data key `image`), and a control's labels are the `value` (or `alias`) of the
 * `<Choice>`/`<Label>` elements under it. Furrow classifies, so it looks for the first `<Choices>` whose
 * `toName` is an `<Image>` or a `<Text>`.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ValidationError } from '../../core/errors.ts';
import type { ProjectModality } from '../../core/types.ts';

/** The one classification control Furrow answers for: where results go and where the input is read. */
export interface ChoicesControl {
  /** The `<Choices name>`: a result's `from_name`. */
  fromName: string;
  /** The object's `name`: a result's `to_name`. */
  toName: string;
  /** The task data key the object reads (`value="$text"` → `text`). */
  dataKey: string;
  /** `Image` or `Text` (other object tags are not classified by Furrow). */
  /** Audio: a transcription project's <TextArea> target (exports only). */
  objectType: 'Image' | 'Text' | 'HyperText' | 'Audio';
  /** The choices in config order. */
  labels: string[];
}

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  preserveOrder: true,
  allowBooleanAttributes: true,
  processEntities: true,
});

interface Element {
  tag: string;
  attrs: Record<string, string>;
  children: Element[];
}

function toElements(nodes: unknown): Element[] {
  if (!Array.isArray(nodes)) return [];
  const out: Element[] = [];
  for (const n of nodes as Node[]) {
    const tag = Object.keys(n).find((k) => k !== ':@' && k !== '#text');
    if (!tag) continue;
    const rawAttrs = (n[':@'] ?? {}) as Record<string, unknown>;
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(rawAttrs)) attrs[k] = String(v);
    out.push({ tag, attrs, children: toElements(n[tag]) });
  }
  return out;
}

function walk(els: Element[], visit: (e: Element) => void): void {
  for (const e of els) {
    visit(e);
    walk(e.children, visit);
  }
}

/** Parses the XML; malformed XML is a 400 naming the problem. An empty config gives no elements. */
export function parseLabelConfig(xml: string): Element[] {
  const text = xml.trim();
  if (text === '') return [];
  const valid = XMLValidator.validate(text);
  if (valid !== true)
    throw new ValidationError(`The label_config is not well-formed XML: ${valid.err.msg} (line ${valid.err.line}).`, undefined, 'invalid_label_config');
  return toElements(parser.parse(text));
}

/** The labels of every `<Choice>`/`<Label>` under a control, in order (nested views allowed). */
function labelsOf(control: Element): string[] {
  const labels: string[] = [];
  walk(control.children, (e) => {
    if (e.tag === 'Choice' || e.tag === 'Label') {
      const v = e.attrs.alias ?? e.attrs.value;
      if (v !== undefined && v !== '') labels.push(v);
    }
  });
  return labels;
}

/**
 * The first `<Choices>` on an `<Image>`, `<Text>` or `<HyperText>` object, or null when the config has none
 * (an empty `<View/>` is allowed: Label Studio validates a backend before the config is written).
 */
export function findChoicesControl(xml: string): ChoicesControl | null {
  const els = parseLabelConfig(xml);
  const objects = new Map<string, Element>();
  walk(els, (e) => {
    if (e.attrs.name !== undefined && (e.attrs.value !== undefined || e.attrs.valueList !== undefined) && !('toName' in e.attrs)) objects.set(e.attrs.name, e);
  });
  let found: ChoicesControl | null = null;
  walk(els, (e) => {
    if (found || e.tag !== 'Choices' || !e.attrs.name || !e.attrs.toName) return;
    for (const target of e.attrs.toName.split(',').map((s) => s.trim())) {
      const obj = objects.get(target);
      if (!obj || (obj.tag !== 'Image' && obj.tag !== 'Text' && obj.tag !== 'HyperText')) continue;
      const value = obj.attrs.value ?? obj.attrs.valueList ?? '';
      found = { fromName: e.attrs.name, toName: target, dataKey: value.replace(/^\$/, ''), objectType: obj.tag, labels: labelsOf(e) };
      return;
    }
  });
  return found;
}

/**
 * Checks a Label Studio config against a Furrow project: its `<Choices>` must classify the project's kind of
 * data (`<Image>` for image projects, `<Text>` for text) with the same set of classes. Returns the control, or
 * null for a config with no `<Choices>` at all (nothing to check yet). A mismatch is a 400 that says what
 * differs, which Label Studio shows in its Model settings form.
 */
export function checkLabelConfig(xml: string, project: { modality: ProjectModality; labels: string[] }): ChoicesControl | null {
  const control = findChoicesControl(xml);
  if (!control) return null;
  const wanted = project.modality === 'image' ? 'Image' : project.modality === 'text' ? 'Text' : null;
  if (wanted === null)
    throw new ValidationError(
      `This Furrow project holds ${project.modality} items, which Label Studio's <Choices> on <${control.objectType}> cannot send.`,
      undefined,
      'label_config_mismatch',
    );
  const objectOk = wanted === 'Text' ? control.objectType === 'Text' || control.objectType === 'HyperText' : control.objectType === 'Image';
  if (!objectOk)
    throw new ValidationError(
      `The <Choices name="${control.fromName}"> labels an <${control.objectType}>, but this Furrow project classifies ${project.modality} items: use <${wanted}>.`,
      undefined,
      'label_config_mismatch',
    );
  const ours = new Set(project.labels);
  const theirs = new Set(control.labels);
  const missing = project.labels.filter((l) => !theirs.has(l));
  const extra = control.labels.filter((l) => !ours.has(l));
  if (missing.length || extra.length)
    throw new ValidationError(
      `The <Choices name="${control.fromName}"> do not match this Furrow project's labels.` +
        (extra.length ? ` Not in Furrow: ${extra.join(', ')}.` : '') +
        (missing.length ? ` Missing from Label Studio: ${missing.join(', ')}.` : '') +
        ' Add or rename the classes on one side (POST /api/projects/:id/labels in Furrow) so both sets are equal.',
      { extra, missing },
      'label_config_mismatch',
    );
  return control;
}
