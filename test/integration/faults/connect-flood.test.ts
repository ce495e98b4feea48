/**
 * A flood of 10,000 connects and closes (as fast as the machine allows, bounded in time): graceful
 * closes, resets, half-closes after an echo, and resets with data in flight. Afterwards no file
 * descriptor has leaked (`/proc/PID/fd` before and after, after a settle), the counters balance
 * (opened = closed + active, with every client connection counted), and the service still echoes.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import { PatternReceiver, closed, connect, echoOnce, patternSlice, waitFor } from '../../helpers/echo-client.js';
import { echoCounters, type EchoCounters } from '../../helpers/monitor-client.js';
import { openFds, startService } from '../../helpers/service.js';

/** Connections in the flood: a count, so a busy machine makes the flood slower, not smaller. */
const FLOOD_CONNECTIONS = 10_000;
/** A bound far above what the flood takes (a few seconds here), only so a hang cannot run forever. */
const FLOOD_DEADLINE_MS = 180_000;
const CONCURRENCY = 48;
/** How long a connect, or a polite client's echo and EOF, may take: a bound on hangs (a loaded
 * 2-core machine has taken over 5 s for one), not a speed requirement. */
const POLITE_BOUND_MS = 60_000;
/** fds the process may legitimately hold more after the flood (lazily opened, e.g. by a GC or timer thread). */
const FD_SLACK = 2;

/** The ways one flood connection ends, taken in turn. */
const KINDS = ['close', 'reset', 'echo-then-half-close', 'reset-with-data-in-flight'] as const;
type Kind = (typeof KINDS)[number];

interface FloodResult {
  /** Client connections that reached `'connect'` (the service must count each as opened). */
  connected: number;
  /** Echo round trips checked byte for byte. */
  echoed: number;
  /** Connect failures (e.g. the kernel's accept queue full): reported, bounded. */
  connectErrors: Map<string, number>;
  /** Failures that are the service's fault: a wrong echo, or no echo/EOF for a polite client. */
  serviceErrors: string[];
  elapsedMs: number;
}

async function oneConnection(port: number, kind: Kind, result: FloodResult): Promise<void> {
  let socket: net.Socket;
  try {
    socket = await connect(port, { timeoutMs: POLITE_BOUND_MS, allowHalfOpen: false });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    result.connectErrors.set(code, (result.connectErrors.get(code) ?? 0) + 1);
    return;
  }
  result.connected++;
  socket.on('error', () => {});
  switch (kind) {
    case 'close':
      socket.destroy();
      return;
    case 'reset':
      socket.resetAndDestroy();
      return;
    case 'reset-with-data-in-flight':
      socket.write(patternSlice(0, 4096));
      socket.resetAndDestroy();
      return;
    case 'echo-then-half-close': {
      const receiver = new PatternReceiver(socket);
      socket.end(patternSlice(0, 32));
      // The service echoes everything, then closes its side: a polite client sees EOF, not a reset.
      const ended = await closed(socket, POLITE_BOUND_MS);
      if (!ended || receiver.received !== 32 || receiver.mismatchAt !== undefined) {
        result.serviceErrors.push(`half-close: ${receiver.received}/32 bytes back, closed=${ended}, mismatch=${receiver.mismatchAt}`);
      } else result.echoed++;
      socket.destroy();
      return;
    }
  }
}

async function flood(port: number, maxConnections: number, durationMs = FLOOD_DEADLINE_MS): Promise<FloodResult> {
  const result: FloodResult = { connected: 0, echoed: 0, connectErrors: new Map(), serviceErrors: [], elapsedMs: 0 };
  const started = Date.now();
  const deadline = started + durationMs;
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline && issued < maxConnections && result.serviceErrors.length < 20) {
      const kind = KINDS[issued++ % KINDS.length] as Kind;
      await oneConnection(port, kind, result);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  result.elapsedMs = Date.now() - started;
  return result;
}

async function settledCounters(monitorUrl: string): Promise<EchoCounters> {
  let last: EchoCounters | undefined;
  await waitFor(async () => {
    last = await echoCounters(monitorUrl);
    return last.active === 0;
  }, 30_000, 100);
  return last as EchoCounters;
}

test('connect/close flood: no fd leak, counters balance, service still echoes', async (t) => {
  const service = await startService();
  t.after(() => service.stop());

  // A short warm-up flood so lazily created resources exist before the baseline.
  await flood(service.echoPort, 2000);
  const before = await settledCounters(service.monitorUrl);
  assert.equal(before.active, 0, 'connections left open after the warm-up');
  const fdsBefore = openFds(service.pid);

  const result = await flood(service.echoPort, FLOOD_CONNECTIONS);
  const rate = result.connected / (result.elapsedMs / 1000);

  const after = await settledCounters(service.monitorUrl);
  let fdsAfter = openFds(service.pid);
  // fds are closed on the socket's 'close'; give the event loop a moment if a few trail.
  await waitFor(() => (fdsAfter = openFds(service.pid)) <= fdsBefore + FD_SLACK, 30_000, 100);
  t.diagnostic(
    `flood: ${result.connected} connections in ${result.elapsedMs} ms (${rate.toFixed(0)}/s), ` +
      `${result.echoed} echoes checked, connect errors ${JSON.stringify([...result.connectErrors])}; ` +
      `fds ${fdsBefore} before, ${fdsAfter} after; counters before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`,
  );

  assert.deepEqual(result.serviceErrors, []);
  const failedConnects = [...result.connectErrors.values()].reduce((a, b) => a + b, 0);
  assert.ok(failedConnects <= result.connected / 100, `${failedConnects} connects failed`);
  // The flood happened in full (its speed depends on the machine and is only reported above).
  assert.ok(result.connected >= 0.99 * FLOOD_CONNECTIONS, `only ${result.connected} of ${FLOOD_CONNECTIONS} flood connections connected`);
  assert.ok(fdsAfter <= fdsBefore + FD_SLACK, `fd leak: ${fdsBefore} open before the flood, ${fdsAfter} after`);

  assert.equal(after.active, 0, 'connections still open after the flood settled');
  assert.equal(after.opened, after.closed + after.active, 'opened = closed + active');
  assert.equal(after.opened - before.opened, result.connected, 'every client connection was counted as opened');
  assert.equal(after.closed - before.closed, result.connected, 'every client connection was counted as closed');

  await echoOnce(service.echoPort, 100_000);
  assert.equal(service.child.exitCode, null, 'the service is still running');
});
