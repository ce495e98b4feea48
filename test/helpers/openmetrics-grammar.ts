/**
 * A checker for the OpenMetrics 1.0 text rules that matter to tcp-echo's exposition (the ABNF and
 * the MetricFamily rules of the spec, https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md):
 * metadata lines (`# TYPE`, `# UNIT` as the name's suffix, `# HELP` with escapes) before a
 * family's samples and at most once each; sample names a family of that type may have (`_total`
 * and `_created` for counters, `_bucket`/`_count`/`_sum`/`_created` for histograms, `_info` for
 * info); label sets; numbers; exemplars only on counter totals and histogram buckets, with a
 * label set of at most 128 characters and a value within the bucket; cumulative buckets ending in
 * `+Inf` with `_count` equal to it; canonical `le` values; `# EOF` last, then nothing.
 * Returns the problems found (empty when the text is clean).
 */

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
// A label value: any character but `"`, `\` and newline, or one of the three escapes.
const LABEL_VALUE = '(?:[^"\\\\\\n]|\\\\\\\\|\\\\n|\\\\")*';
const LABELS = `\\{(?:${LABEL_NAME}="${LABEL_VALUE}"(?:,${LABEL_NAME}="${LABEL_VALUE}")*)?\\}`;
const NUMBER = '(?:[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]?Inf|NaN)';
const TIMESTAMP = '[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?';
const SAMPLE = new RegExp(`^(${NAME})(${LABELS})? (${NUMBER})(?: (${TIMESTAMP}))?(?: # (${LABELS}) (${NUMBER})(?: (${TIMESTAMP}))?)?$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|gaugehistogram|stateset|info|summary|unknown)$`);
const UNIT = new RegExp(`^# UNIT (${NAME}) ([a-zA-Z0-9_:]*)$`);
const HELP = new RegExp(`^# HELP (${NAME}) ((?:[^"\\\\\\n]|\\\\\\\\|\\\\n|\\\\")*)$`);

const SUFFIXES: Record<string, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  info: ['_info'],
  unknown: [''],
};

/** One parsed sample line. */
export interface OpenMetricsSample {
  readonly family: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly exemplar?: { readonly labels: Readonly<Record<string, string>>; readonly value: number; readonly timestamp?: number };
}

/** The result of a check: problems, and the samples parsed on the way. */
export interface OpenMetricsCheck {
  readonly problems: string[];
  readonly samples: OpenMetricsSample[];
  /** Family name → type. */
  readonly types: Map<string, string>;
  /** Family name → unit (only families with a `# UNIT` line). */
  readonly units: Map<string, string>;
}

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === undefined) return labels;
  for (const m of text.matchAll(new RegExp(`(${LABEL_NAME})="(${LABEL_VALUE})"`, 'g'))) {
    labels[m[1] as string] = (m[2] as string).replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function parseNumber(text: string): number {
  if (text.endsWith('Inf')) return text.startsWith('-') ? -Infinity : Infinity;
  return Number(text);
}

/** Checks `text` against the rules above. */
export function checkOpenMetrics(text: string): OpenMetricsCheck {
  const problems: string[] = [];
  const samples: OpenMetricsSample[] = [];
  const types = new Map<string, string>();
  const units = new Map<string, string>();
  if (!text.endsWith('# EOF\n')) problems.push('the text does not end with "# EOF\\n"');
  const lines = text.split('\n');
  lines.pop(); // the empty string after the final newline
  const eof = lines.indexOf('# EOF');
  if (eof !== lines.length - 1) problems.push(`"# EOF" is not the last line (line ${eof + 1} of ${lines.length})`);

  let family: string | undefined;
  let familyType = 'unknown';
  let seenSample = false;
  const metadata = new Set<string>();
  const finished = new Set<string>();
  let buckets: Array<{ le: number; value: number }> = [];
  const startFamily = (name: string): void => {
    if (family === name) return;
    closeHistogram();
    if (family !== undefined) finished.add(family);
    if (finished.has(name)) problems.push(`family ${name} is interleaved with another family`);
    family = name;
    familyType = 'unknown';
    seenSample = false;
    metadata.clear();
  };
  const closeHistogram = (): void => {
    if (familyType === 'histogram' && buckets.length > 0) {
      if (buckets[buckets.length - 1]?.le !== Infinity) problems.push(`histogram ${family}: the last bucket is not le="+Inf"`);
    }
    buckets = [];
  };

  lines.forEach((line, index) => {
    const at = `line ${index + 1} (${JSON.stringify(line.slice(0, 80))})`;
    if (line === '# EOF') return;
    if (line.startsWith('#')) {
      const type = TYPE.exec(line);
      const unit = UNIT.exec(line);
      const help = HELP.exec(line);
      const match = type ?? unit ?? help;
      if (match === null) {
        problems.push(`${at}: not a TYPE, UNIT or HELP line`);
        return;
      }
      const name = match[1] as string;
      const kind = line.split(' ')[1] as string;
      startFamily(name);
      if (seenSample) problems.push(`${at}: metadata after the family's samples`);
      if (metadata.has(kind)) problems.push(`${at}: a second ${kind} line for ${name}`);
      metadata.add(kind);
      if (type) {
        familyType = type[2] as string;
        types.set(name, familyType);
      }
      if (unit) {
        const u = unit[2] as string;
        units.set(name, u);
        if (u !== '' && !name.endsWith(`_${u}`)) problems.push(`${at}: the unit is not a suffix of the family name`);
      }
      return;
    }
    const m = SAMPLE.exec(line);
    if (m === null) {
      problems.push(`${at}: not a sample line`);
      return;
    }
    const name = m[1] as string;
    if (family === undefined || !name.startsWith(family)) {
      problems.push(`${at}: sample ${name} outside a family with metadata`);
      return;
    }
    const suffix = name.slice(family.length);
    const allowed = SUFFIXES[familyType] ?? [''];
    if (!allowed.includes(suffix)) problems.push(`${at}: ${familyType} ${family} cannot have a sample named ${name}`);
    seenSample = true;
    const labels = parseLabels(m[2]);
    const value = parseNumber(m[3] as string);
    let exemplar: OpenMetricsSample['exemplar'];
    if (m[5] !== undefined) {
      const exemplarLabels = parseLabels(m[5]);
      const length = Object.entries(exemplarLabels).reduce((n, [k, v]) => n + [...k].length + [...v].length, 0);
      if (length > 128) problems.push(`${at}: the exemplar's label set has ${length} characters (at most 128)`);
      if (!(suffix === '_bucket' || (familyType === 'counter' && suffix === '_total'))) {
        problems.push(`${at}: an exemplar on a sample that cannot carry one`);
      }
      exemplar = { labels: exemplarLabels, value: parseNumber(m[6] as string), ...(m[7] !== undefined ? { timestamp: Number(m[7]) } : {}) };
    }
    if (suffix === '_created' && !(value > 0)) problems.push(`${at}: _created is not a positive timestamp`);
    if (familyType === 'histogram' && suffix === '_bucket') {
      const le = labels.le;
      if (le === undefined) problems.push(`${at}: a bucket without le`);
      else {
        if (le !== '+Inf' && !/^-?\d+\.\d+$|^-?\d+(\.\d+)?e[+-]?\d+$/i.test(le)) problems.push(`${at}: le="${le}" is not a canonical number`);
        const bound = parseNumber(le);
        const previous = buckets[buckets.length - 1];
        if (previous !== undefined && !(bound > previous.le)) problems.push(`${at}: buckets not in increasing le order`);
        if (previous !== undefined && value < previous.value) problems.push(`${at}: bucket counts are not cumulative`);
        if (exemplar !== undefined && (exemplar.value > bound || (previous !== undefined && exemplar.value <= previous.le))) {
          problems.push(`${at}: the exemplar value ${exemplar.value} is outside its bucket`);
        }
        buckets.push({ le: bound, value });
      }
    }
    if (familyType === 'histogram' && suffix === '_count') {
      const inf = buckets[buckets.length - 1];
      if (inf === undefined || inf.le !== Infinity || inf.value !== value) problems.push(`${at}: _count differs from the +Inf bucket`);
    }
    samples.push({ family, name, labels, value, ...(exemplar ? { exemplar } : {}) });
  });
  closeHistogram();
  return { problems, samples, types, units };
}
