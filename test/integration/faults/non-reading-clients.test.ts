/**
 * 200 clients that send and never read. The service must stop reading from them (TCP
 * backpressure) instead of buffering: its RSS growth stays under a fixed bound, 50 well-behaved
 * clients keep their echo latency meanwhile, and once the 200 start reading they get back every
 * byte they sent, in order. (userver's sample queues every read without bound here.)
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import {
  PatternReceiver,
  connect,
  drained,
  echoOnce,
  patternSlice,
  percentile,
  pingPong,
  sleep,
} from '../../helpers/echo-client.js';
import { metricValue, monitorJson } from '../../helpers/monitor-client.js';
import { rssBytes, startService } from '../../helpers/service.js';

const HOGS = 200;
const READERS = 50;
/** The per-connection buffer bound of the shipped config (tcp-echo's default). */
const BUFFER_BYTES = 64 * 1024;
/** Each hog sends at most this much. The kernel's loopback buffers (the client's send buffer up to
 * wmem_max 4 MiB, the service's autotuned receive buffer, its send buffer) absorb up to about 8-10 MiB
 * per connection whatever the service does (at 8 MiB, 85% of hogs never stalled in one CI run), so
 * the cap sits above that; the service's own bound is checked on its buffered-bytes gauge and its
 * RSS. An unbounded service would hold most of HOGS × this (3.2 GiB). */
const HOG_CAP_BYTES = 16 * 1024 * 1024;
/** No `'drain'` for this long = the hog is stalled by backpressure. */
const STALL_MS = 1000;
/**
 * The bound: per connection what the service may buffer (buffer_size plus one 64 KiB read of
 * overshoot per direction: 192 KiB), plus 64 MiB slack for socket, stream and V8 overhead and for
 * buffers the GC has not returned yet: 200 × 192 KiB + 64 MiB = 101.5 MiB. An unbounded service
 * would grow by most of the 3.2 GiB the hogs may send.
 */
const RSS_GROWTH_BOUND = HOGS * (3 * BUFFER_BYTES) + 64 * 1024 * 1024;
/**
 * The buffer bound per connection plus one 64 KiB read of overshoot in each direction (tcp-echo's
 * schema): the write buffer takes a whole chunk while just under its half, and a paused read buffer
 * still takes one more read while just under its half.
 */
const BUFFERED_BOUND = HOGS * (BUFFER_BYTES + 2 * 64 * 1024);

/** Writes pattern bytes until `cap` or until no `'drain'` comes for STALL_MS; returns bytes written. */
async function sendUntilStalled(socket: net.Socket, cap: number): Promise<number> {
  let sent = 0;
  while (sent < cap && !socket.destroyed) {
    const n = Math.min(65_536, cap - sent);
    const more = socket.write(patternSlice(sent, n));
    sent += n;
    if (!more && !(await drained(socket, STALL_MS))) break;
  }
  return sent;
}

test('200 non-reading clients: bounded RSS growth, steady latency for 50 others, every byte back later', async (t) => {
  const service = await startService();
  t.after(() => service.stop());

  // Warm up (JIT, heap, socket pools), then the latency baseline without the hogs.
  await pingPong(service.echoPort, { clients: READERS, durationMs: 1500, maxRounds: 5000 });
  const baseline = await pingPong(service.echoPort, { clients: READERS, durationMs: 3000, maxRounds: 5000 });
  assert.deepEqual(baseline.errors, []);
  assert.equal(baseline.mismatches, 0);
  const rssBefore = rssBytes(service.pid);

  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    try {
      rssPeak = Math.max(rssPeak, rssBytes(service.pid));
    } catch {
      // The process is gone; the assertions below report it.
    }
  }, 100);
  t.after(() => clearInterval(sampler));

  const hogs: net.Socket[] = [];
  t.after(() => hogs.forEach((s) => s.destroy()));
  for (let i = 0; i < HOGS; i++) {
    const socket = await connect(service.echoPort, { allowHalfOpen: false });
    socket.on('error', () => {});
    socket.pause(); // never read: the kernel buffers fill, then the service's bound must hold
    hogs.push(socket);
  }
  const sent = await Promise.all(hogs.map((s) => sendUntilStalled(s, HOG_CAP_BYTES)));
  const capped = sent.filter((n) => n >= HOG_CAP_BYTES).length;
  // A bounded service stalls (nearly) every hog well before the cap; let it settle, then measure.
  await sleep(500);
  const stalled = await monitorJson(service.monitorUrl);
  const during = await pingPong(service.echoPort, { clients: READERS, durationMs: 3000, maxRounds: 5000 });
  clearInterval(sampler);
  const buffered = metricValue(stalled, 'tcp-echo.backpressure.buffered-bytes', {}, 'exact');
  const pauses = metricValue(stalled, 'tcp-echo.backpressure.pauses', {}, 'exact');
  rssPeak = Math.max(rssPeak, rssBytes(service.pid));
  const growth = rssPeak - rssBefore;

  const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  const p99Before = percentile(baseline.latenciesMs, 99);
  const p99During = percentile(during.latenciesMs, 99);
  t.diagnostic(
    `hogs sent ${mib(sent.reduce((a, b) => a + b, 0))} (${capped} reached the ${mib(HOG_CAP_BYTES)} cap); ` +
      `RSS ${mib(rssBefore)} -> peak ${mib(rssPeak)}: growth ${mib(growth)} (bound ${mib(RSS_GROWTH_BOUND)}); ` +
      `service buffered ${mib(buffered ?? Number.NaN)} (bound ${mib(BUFFERED_BOUND)}), ${pauses} backpressure pauses; ` +
      `readers p99 ${p99Before.toFixed(2)} ms -> ${p99During.toFixed(2)} ms, ` +
      `p50 ${percentile(baseline.latenciesMs, 50).toFixed(2)} -> ${percentile(during.latenciesMs, 50).toFixed(2)} ms`,
  );

  assert.ok(growth < RSS_GROWTH_BOUND, `RSS grew by ${mib(growth)}, over the bound of ${mib(RSS_GROWTH_BOUND)}`);
  assert.ok(buffered !== undefined && buffered <= BUFFERED_BOUND, `the service buffers ${buffered} bytes for the non-readers (bound ${BUFFERED_BOUND})`);
  // A hog stalls because the service stopped reading from it: one pause at least each. (On a busy
  // machine a hog can also look stalled when the service is merely slow to read: 10% leeway.)
  assert.ok(pauses !== undefined && pauses >= 0.9 * (HOGS - capped), `${pauses} backpressure pauses for ${HOGS - capped} stalled non-readers`);
  // Loopback autotuning can let the kernel absorb a hog's whole cap;
  // the check is meaningless unless a good share of them pushed the service into backpressure.
  assert.ok(HOGS - capped >= HOGS / 4, `only ${HOGS - capped} of ${HOGS} non-readers stalled: the bound was barely exercised`);
  assert.deepEqual(during.errors, []);
  assert.equal(during.mismatches, 0);
  assert.ok(during.latenciesMs.length >= READERS * 10, `only ${during.latenciesMs.length} echo rounds completed`);
  // Generous: the machine has 2 cores shared with other test runs.
  const allowed = Math.max(5 * p99Before, p99Before + 50);
  assert.ok(p99During <= allowed, `reader p99 ${p99During.toFixed(2)} ms with the hogs vs ${p99Before.toFixed(2)} ms without (allowed ${allowed.toFixed(2)})`);

  // Now the hogs read: each gets back exactly what it sent, in order (nothing dropped while stalled).
  const receivers = hogs.map((s) => new PatternReceiver(s));
  hogs.forEach((s) => s.resume());
  const complete = await Promise.all(receivers.map((r, i) => r.until(sent[i] as number, 60_000)));
  receivers.forEach((r, i) => {
    assert.ok(complete[i], `hog ${i} got ${r.received} of ${sent[i]} bytes back`);
    assert.equal(r.mismatchAt, undefined, `hog ${i}: echo differs at byte ${r.mismatchAt}`);
    assert.equal(r.received, sent[i], `hog ${i} got more bytes than it sent`);
  });
  hogs.forEach((s) => s.destroy());
  await echoOnce(service.echoPort);
  assert.equal(service.child.exitCode, null, 'the service is still running');
});
