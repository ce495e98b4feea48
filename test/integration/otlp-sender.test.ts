/**
 * Which HTTP client carries the span exports, end to end with the real service: an `http:`
 * collector gets the kept-open sender (many exports over few connections, every span delivered),
 * an `https:` collector the SDK's Node transport, with TLS verified against the certificate
 * OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE names (openssl makes a self-signed one for 127.0.0.1).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { echoAll } from '../helpers/echo-client.js';
import { otlpReceiverFor, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { startServiceFor } from '../helpers/service.js';

function tracingEnv(extra: Record<string, string>): Record<string, string> {
  return { OTEL_SDK_DISABLED: 'false', OTEL_BSP_SCHEDULE_DELAY: '20', ...extra };
}

/** `sock` spans of connections that carried data (not the readiness probe's). */
function dataSocks(spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  return spans.filter((s) => s.name === 'sock' && Number(s.attributes['sock.bytes_read']) > 0);
}

/** A self-signed certificate for IP 127.0.0.1 in a temporary directory, removed after the test. */
function selfSigned(t: TestContext): { key: Buffer; cert: Buffer; certPath: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), certPath };
}

describe('OTLP span sender', () => {
  it('http: the kept-open sender carries many exports over few connections and delivers every span', async (t) => {
    const r = await otlpReceiverFor(t);
    const service = await startServiceFor(t, { env: tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4' }) });
    assert.match(service.stderr(), /tracing on.*\totlp_sender=kept-open/);
    const total = 40;
    for (let i = 0; i < total; i++) {
      const payload = Buffer.from(`connection ${i}`);
      assert.deepEqual(await echoAll(service.echoPort, payload), payload);
    }
    await r.waitFor((spans) => dataSocks(spans).length >= total, 60_000);
    assert.equal(dataSocks(r.spans).length, total, 'each connection once');
    assert.ok(r.requests() >= 10, `batches of 4 spans: ${r.requests()} requests`);
    assert.ok(r.connections() < r.requests() / 2, `${r.requests()} exports over ${r.connections()} connections`);
    assert.equal(r.malformed(), 0);
    assert.equal(await service.stop(), 0);
  });

  it('https: the SDK transport, with the collector certificate from OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE', async (t) => {
    const tls = selfSigned(t);
    const r = await otlpReceiverFor(t, {}, { tls });
    assert.match(r.tracesUrl, /^https:/);
    const service = await startServiceFor(t, {
      env: tracingEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: r.tracesUrl, OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: tls.certPath }),
    });
    assert.match(service.stderr(), /tracing on.*\totlp_sender=node-http/);
    const payload = Buffer.from('over tls');
    assert.deepEqual(await echoAll(service.echoPort, payload), payload);
    const spans = await r.waitFor((s) => dataSocks(s).length >= 1, 60_000);
    assert.equal(dataSocks(spans)[0]?.attributes['sock.bytes_read'], payload.length);
    assert.equal(await service.stop(), 0);
  });
});
