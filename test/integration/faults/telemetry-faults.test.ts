/**
 * Telemetry faults: the OTLP collector is down, slow (answers after 10 s), or answers 500. In each
 * case echo is unaffected (200 concurrent connections echo correctly; the connection rate stays
 * within a generous factor of the rate with a healthy collector, measured alternately), the process stays up, nothing
 * lands on stdout, and SIGTERM with connections open exits 0 within the tracer's flush bound.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { describe, test } from 'node:test';
import { PatternReceiver, connect, connectionRate, patternSlice, waitFor } from '../../helpers/echo-client.js';
import { downCollectorUrl, startFaultyCollector, type CollectorMode, type FaultyCollector } from '../../helpers/faults-collector.js';
import { echoCounters } from '../../helpers/monitor-client.js';
import { startService, type RunningService } from '../../helpers/service.js';

/** The tracer's shutdown flush bound this test configures (`tracer.flush-timeout`). */
const FLUSH_TIMEOUT_MS = 2000;
/** Process exit after SIGTERM: the flush bound plus generous slack for a loaded 2-core machine. */
const EXIT_BOUND_MS = FLUSH_TIMEOUT_MS + 3000;
/** Rate measurement: alternating rounds against the healthy and the faulty service, so load from
 * elsewhere on the machine hits both alike. */
const RATE_ROUNDS = 3;
const RATE_ROUND_MS = 1000;
/** A faulty collector may cost some speed, not more than this factor. */
const MIN_RATE_RATIO = 0.5;

async function startTraced(endpoint: string): Promise<RunningService> {
  return startService({
    components: (c) => {
      c.tracer = { 'flush-timeout': `${FLUSH_TIMEOUT_MS}ms`, 'log-spans': 'never' };
    },
    env: {
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_TRACES_SAMPLER: 'always_on',
      // Export often, so the fault is hit many times during the test.
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
}

/** 200 connections at once, each echoing 8 KiB in two halves, all checked. */
async function concurrentEcho(port: number): Promise<void> {
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const s = await connect(port, { allowHalfOpen: false });
      s.on('error', () => {});
      sockets.push(s);
    }
    const receivers = sockets.map((s) => new PatternReceiver(s));
    sockets.forEach((s) => s.write(patternSlice(0, 4096)));
    sockets.forEach((s) => s.write(patternSlice(4096, 4096)));
    const ok = await Promise.all(receivers.map((r) => r.until(8192, 10_000)));
    receivers.forEach((r, i) => {
      assert.ok(ok[i], `connection ${i}: ${r.received}/8192 bytes echoed`);
      assert.equal(r.mismatchAt, undefined, `connection ${i}: echo differs at byte ${r.mismatchAt}`);
    });
  } finally {
    sockets.forEach((s) => s.destroy());
  }
}

/** SIGTERM with 20 connections open: exit 0 within EXIT_BOUND_MS. Returns the time taken. */
async function stopWithOpenConnections(service: RunningService): Promise<number> {
  const open: net.Socket[] = [];
  for (let i = 0; i < 20; i++) {
    const s = await connect(service.echoPort, { allowHalfOpen: false });
    s.on('error', () => {});
    s.resume();
    open.push(s);
  }
  const started = Date.now();
  const code = await service.stop('SIGTERM', EXIT_BOUND_MS + 10_000);
  const ms = Date.now() - started;
  open.forEach((s) => s.destroy());
  assert.equal(code, 0, `exit code after SIGTERM; stderr tail:\n${service.stderr().slice(-1500)}`);
  assert.ok(ms <= EXIT_BOUND_MS, `SIGTERM took ${ms} ms to exit (bound ${EXIT_BOUND_MS})`);
  return ms;
}

/** Connections per second of `faulty` relative to `healthy`, measured in alternating rounds. */
async function relativeRate(healthy: RunningService, faulty: RunningService): Promise<{ healthy: number; faulty: number }> {
  let healthyCycles = 0;
  let faultyCycles = 0;
  for (let round = 0; round < RATE_ROUNDS; round++) {
    for (const [service, isFaulty] of [[healthy, false], [faulty, true]] as const) {
      const rate = await connectionRate(service.echoPort, { workers: 8, durationMs: RATE_ROUND_MS });
      assert.deepEqual(rate.errors, [], `${isFaulty ? 'faulty' : 'healthy'} collector: echo failures`);
      if (isFaulty) faultyCycles += rate.cycles;
      else healthyCycles += rate.cycles;
    }
  }
  const seconds = (RATE_ROUNDS * RATE_ROUND_MS) / 1000;
  return { healthy: healthyCycles / seconds, faulty: faultyCycles / seconds };
}

describe('telemetry faults', { concurrency: false }, () => {
  test('baseline: a healthy collector receives spans', async (t) => {
    const collector = await startFaultyCollector({ kind: 'ok' });
    t.after(() => collector.close());
    const service = await startTraced(collector.url);
    t.after(() => service.stop('SIGKILL'));
    await concurrentEcho(service.echoPort);
    assert.ok(await waitFor(() => collector.requests() > 0, 5000), 'the collector received no export');
    const ms = await stopWithOpenConnections(service);
    t.diagnostic(`healthy collector: ${collector.requests()} exports, SIGTERM exit in ${ms} ms`);
  });

  const faults: [string, () => Promise<{ url: string; collector?: FaultyCollector }>][] = [
    ['collector down (connection refused)', async () => ({ url: await downCollectorUrl() })],
    ['collector slow (answers after 10 s)', async () => {
      const collector = await startFaultyCollector({ kind: 'slow', delayMs: 10_000 } satisfies CollectorMode);
      return { url: collector.url, collector };
    }],
    ['collector answers 500', async () => {
      const collector = await startFaultyCollector({ kind: 'status', status: 500 });
      return { url: collector.url, collector };
    }],
  ];

  for (const [name, setup] of faults) {
    test(name, async (t) => {
      const { url, collector } = await setup();
      if (collector) t.after(() => collector.close());
      const service = await startTraced(url);
      t.after(() => service.stop('SIGKILL'));
      const healthyCollector = await startFaultyCollector({ kind: 'ok' });
      t.after(() => healthyCollector.close());
      const healthy = await startTraced(healthyCollector.url);
      t.after(() => healthy.stop('SIGKILL'));

      await concurrentEcho(service.echoPort);
      const rate = await relativeRate(healthy, service);
      await healthy.stop('SIGKILL');
      await concurrentEcho(service.echoPort);
      if (collector) assert.ok(collector.requests() > 0, 'the exporter never reached the faulty collector');

      const counters = await echoCounters(service.monitorUrl);
      assert.equal(counters.opened, counters.closed + counters.active, 'opened = closed + active');
      assert.equal(service.child.exitCode, null, 'the process stays up');
      const ratio = rate.faulty / rate.healthy;
      const ms = await stopWithOpenConnections(service);
      t.diagnostic(
        `${name}: ${rate.faulty.toFixed(0)} connections/s vs ${rate.healthy.toFixed(0)} with a healthy collector (${ratio.toFixed(2)}), ` +
          `${collector?.requests() ?? 0} export attempts received, SIGTERM exit in ${ms} ms`,
      );
      assert.ok(ratio >= MIN_RATE_RATIO, `connection rate fell to ${ratio.toFixed(2)} of the healthy-collector rate`);
      assert.equal(service.stdout(), '', 'OpenTelemetry trouble must go to the log, not stdout');
      // Every connection logs its open and close at info; the exporter's failures must not add a
      // line per attempt (one export every 100 ms here): they are rate-limited warnings.
      const warnings = service.stderr().split('\n').filter((l) => /level=(WARNING|ERROR|CRITICAL)/.test(l)).length;
      assert.ok(warnings <= 50, `${warnings} warning/error log lines: exporter errors must be rate-limited`);
    });
  }
});
