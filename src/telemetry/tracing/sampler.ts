/**
 * The sampler of the connection spans, decided once from the config's `sampler-ratio` or from
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (which win), by the specification's rules as the
 * SDK's own env reading applies them. settings.ts resolves the choice from the environment it is
 * given; the pipeline builds the Sampler from the choice.
 */
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace';

/** Which sampler: its root decision, and whether a (propagated) parent's decision is honoured. */
export interface SamplerChoice {
  readonly root: 'always_on' | 'always_off' | 'ratio';
  /** For `ratio`: the share of trace ids sampled, in [0, 1]. */
  readonly ratio?: number;
  readonly parentBased: boolean;
}

/** What the SDK uses when OTEL_TRACES_SAMPLER is unset or unknown. */
const DEFAULT_CHOICE: SamplerChoice = { root: 'always_on', parentBased: true };

/** The config's ratio: parent-based like the SDK default, so a propagated parent's decision is honoured. */
export function ratioChoice(ratio: number): SamplerChoice {
  return ratio >= 1 ? DEFAULT_CHOICE : { root: 'ratio', ratio, parentBased: true };
}

/**
 * The sampler OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG name: unset means
 * `parentbased_always_on`; a ratio that is missing, not a number or outside [0, 1] means 1; an
 * unknown name means `parentbased_always_on`. Problems are appended to `warnings`.
 */
export function samplerChoiceFromEnv(env: Readonly<Record<string, string | undefined>>, warnings: string[]): SamplerChoice {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || 'parentbased_always_on';
  const ratio = (): number => {
    const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
    const value = arg === undefined || arg === '' ? NaN : Number(arg);
    if (Number.isNaN(value) || value < 0 || value > 1) {
      if (arg !== undefined && arg !== '') warnings.push(`OTEL_TRACES_SAMPLER_ARG=${arg} is not a ratio in [0, 1]; using 1`);
      return 1;
    }
    return value;
  };
  switch (name) {
    case 'always_on':
      return { root: 'always_on', parentBased: false };
    case 'always_off':
      return { root: 'always_off', parentBased: false };
    case 'parentbased_always_on':
      return DEFAULT_CHOICE;
    case 'parentbased_always_off':
      return { root: 'always_off', parentBased: true };
    case 'traceidratio':
      return { root: 'ratio', ratio: ratio(), parentBased: false };
    case 'parentbased_traceidratio':
      return { root: 'ratio', ratio: ratio(), parentBased: true };
    default:
      warnings.push(`OTEL_TRACES_SAMPLER value "${name}" invalid, defaulting to "parentbased_always_on"`);
      return DEFAULT_CHOICE;
  }
}

/**
 * True when the choice can never sample a connection: connection spans are always roots, so a
 * parent-based sampler decides by its root sampler.
 */
export function neverSamples(choice: SamplerChoice): boolean {
  return choice.root === 'always_off' || (choice.root === 'ratio' && choice.ratio === 0);
}

/**
 * True when the choice samples every connection: connection spans are roots, and an always-on
 * root (parent-based or not) answers RECORD_AND_SAMPLED whatever the trace id, so asking it per
 * connection would only cost the call and the trace id's hex. A ratio of 1 is not this: the
 * SDK's TraceIdRatioBasedSampler still compares the id with its bound.
 */
export function alwaysSamples(choice: SamplerChoice): boolean {
  return choice.root === 'always_on';
}

/** The SDK sampler of a choice. */
export function buildSampler(choice: SamplerChoice): Sampler {
  const root =
    choice.root === 'always_on'
      ? new AlwaysOnSampler()
      : choice.root === 'always_off'
        ? new AlwaysOffSampler()
        : new TraceIdRatioBasedSampler(choice.ratio ?? 1);
  return choice.parentBased ? new ParentBasedSampler({ root }) : root;
}
