/**
 * Connection spans built at close (issue 7): ids drawn at accept and handed to the SDK through
 * PresetIdGenerator, and the env sampler that takes the same decision at accept and at close.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, SamplingDecision, SpanKind } from '@opentelemetry/api';
import { PresetIdGenerator } from '../../../src/telemetry/tracing/otel-connection-tracer.js';
import { buildSampler, samplerChoiceFromEnv } from '../../../src/telemetry/tracing/sampler.js';

describe('connection span ids', () => {
  it('PresetIdGenerator hands out a preset pair once, then random valid ids', () => {
    const ids = new PresetIdGenerator();
    ids.preset('0123456789abcdef0123456789abcdef', '0123456789abcdef');
    assert.equal(ids.generateSpanId(), '0123456789abcdef');
    assert.equal(ids.generateTraceId(), '0123456789abcdef0123456789abcdef');
    const trace = ids.generateTraceId();
    const span = ids.generateSpanId();
    assert.match(trace, /^[0-9a-f]{32}$/);
    assert.match(span, /^[0-9a-f]{16}$/);
    assert.notEqual(trace, '0123456789abcdef0123456789abcdef');
    ids.preset('ffffffffffffffffffffffffffffffff', 'ffffffffffffffff');
    ids.clear();
    assert.notEqual(ids.generateSpanId(), 'ffffffffffffffff', 'a cleared preset is never used');
  });

  it('the sampler follows OTEL_TRACES_SAMPLER and decides a root by its trace id alone', () => {
    const decide = (env: NodeJS.ProcessEnv, traceId: string) =>
      buildSampler(samplerChoiceFromEnv(env, [])).shouldSample(ROOT_CONTEXT, traceId, 'sock', SpanKind.SERVER, {}, []).decision;
    const low = '00000000000000000000000000000001';
    const high = 'ffffffffffffffffffffffffffffffff';
    assert.equal(decide({}, high), SamplingDecision.RECORD_AND_SAMPLED);
    assert.equal(decide({ OTEL_TRACES_SAMPLER: 'always_off' }, low), SamplingDecision.NOT_RECORD);
    assert.equal(decide({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' }, low), SamplingDecision.NOT_RECORD);
    assert.equal(decide({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }, high), SamplingDecision.NOT_RECORD);
    const half = { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' };
    const ids = new PresetIdGenerator();
    const decisions = new Set<SamplingDecision>();
    for (let i = 0; i < 200; i++) {
      const traceId = ids.generateTraceId();
      const first = decide(half, traceId);
      // Decided again at close, when the spans are built: it must come out the same.
      assert.equal(decide(half, traceId), first);
      decisions.add(first);
    }
    assert.equal(decisions.size, 2, 'a ratio of 0.5 samples some connections and not others');
    // A ratio outside [0, 1] means 1, as the SDK reads it, with a warning; so does an unknown name.
    assert.equal(decide({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' }, high), SamplingDecision.RECORD_AND_SAMPLED);
    const warnings: string[] = [];
    samplerChoiceFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' }, warnings);
    samplerChoiceFromEnv({ OTEL_TRACES_SAMPLER: 'sometimes' }, warnings);
    assert.deepEqual(warnings, [
      'OTEL_TRACES_SAMPLER_ARG=7 is not a ratio in [0, 1]; using 1',
      'OTEL_TRACES_SAMPLER value "sometimes" invalid, defaulting to "parentbased_always_on"',
    ]);
    assert.equal(decide({ OTEL_TRACES_SAMPLER: 'sometimes' }, high), SamplingDecision.RECORD_AND_SAMPLED);
  });
});
