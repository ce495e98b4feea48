/**
 * Connection spans built at close (issue 7): ids drawn at accept and handed to the SDK through
 * PresetIdGenerator, and the env sampler that takes the same decision at accept and at close.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, SamplingDecision, SpanKind } from '@opentelemetry/api';
import { IDS_PER_CONNECTION, IdPool, SEND_SPAN_ID_AT, SOCK_SPAN_ID_AT } from '../../../src/telemetry/tracing/id-pool.js';
import { PresetIdGenerator } from '../../../src/telemetry/tracing/otel-connection-tracer.js';
import { buildSampler, samplerChoiceFromEnv } from '../../../src/telemetry/tracing/sampler.js';

describe('connection span ids', () => {
  it('IdPool draws random ids per connection and never rewrites the bytes it handed out', () => {
    const pool = new IdPool();
    const drawn: { slab: Buffer; at: number; copy: Buffer }[] = [];
    // Past several slabs, so fresh slabs are taken while earlier connections still hold theirs.
    for (let i = 0; i < 1000; i++) {
      const at = pool.draw();
      const slab = pool.current;
      drawn.push({ slab, at, copy: Buffer.from(slab.subarray(at, at + IDS_PER_CONNECTION)) });
    }
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    for (const { slab, at, copy } of drawn) {
      assert.ok(slab.subarray(at, at + IDS_PER_CONNECTION).equals(copy), 'ids already handed out stay as they were');
      traceIds.add(copy.toString('hex', 0, 16));
      spanIds.add(copy.toString('hex', SOCK_SPAN_ID_AT, SOCK_SPAN_ID_AT + 8));
      spanIds.add(copy.toString('hex', SEND_SPAN_ID_AT, SEND_SPAN_ID_AT + 8));
    }
    assert.equal(traceIds.size, 1000, 'a trace id per connection');
    assert.equal(spanIds.size, 2000, 'two span ids per connection');
    assert.ok(new Set(drawn.map((d) => d.slab)).size > 1, 'more than one slab was used');
  });

  it('IdPool never hands out an all-zero id (invalid in OpenTelemetry), as the SDK ends one in 1', () => {
    const pool = new IdPool();
    pool.draw();
    // The next draw is from the same slab: zero it where that connection's ids will be.
    const slab = pool.current;
    const next = IDS_PER_CONNECTION;
    slab.fill(0, next, next + IDS_PER_CONNECTION);
    const at = pool.draw();
    assert.equal(at, next);
    assert.equal(slab.toString('hex', at, at + 16), '00000000000000000000000000000001');
    assert.equal(slab.toString('hex', at + SOCK_SPAN_ID_AT, at + SOCK_SPAN_ID_AT + 8), '0000000000000001');
    assert.equal(slab.toString('hex', at + SEND_SPAN_ID_AT, at + SEND_SPAN_ID_AT + 8), '0000000000000001');
  });

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
