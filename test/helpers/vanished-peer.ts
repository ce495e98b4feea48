/**
 * Run inside a private network namespace (`unshare -rn`, loopback up): starts the real service
 * with a 1 s keepalive idle time, connects a client, then takes loopback down, so the peer
 * vanishes without FIN or RST. Waits for the service to close the connection on its own, brings
 * loopback back to read the metrics, and prints one JSON line: how long the close took, the close
 * reason counts and the service's log line. Used by test/integration/echo-keepalive.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { connect, ping, waitFor } from './echo-client.js';
import { metric } from './monitor-client.js';
import { startService } from './service.js';

const service = await startService({
  components: (c) => void Object.assign(c['tcp-echo']!, { tcp_keepalive_idle: '1s' }),
});
try {
  const client = await connect(service.echoPort);
  client.on('error', () => {});
  await ping(client, Buffer.from('before the link goes down'));
  const linesBefore = service.stderr().length;
  execFileSync('ip', ['link', 'set', 'lo', 'down']);
  const started = performance.now();
  await waitFor(() => /Closing socket/.test(service.stderr().slice(linesBefore)), 60_000);
  const closedAfterMs = Math.round(performance.now() - started);
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  const line = service.stderr().slice(linesBefore).split('\n').find((l) => l.includes('Closing socket')) ?? '';
  const reasons: Record<string, number> = {};
  for (const reason of ['eof', 'reset', 'timeout', 'error']) {
    reasons[reason] = await metric(service, 'tcp-echo.sockets.close-reasons', { reason }, 'exact');
  }
  client.destroy();
  process.stdout.write(`${JSON.stringify({ closedAfterMs, reasons, line })}\n`);
} finally {
  await service.stop();
}
