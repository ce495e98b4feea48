/**
 * The OTLP sender's HTTP/1.x response reader: every framing (Content-Length, chunked with
 * extensions and trailers, to the end of the connection), split at every byte so no boundary is
 * special; interim 1xx heads skipped; whether the connection may carry the next request; and every
 * bound and malformation as a coded error rather than a hang or a crash.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpResponseError, HttpResponseReader, MAX_RESPONSE_HEAD_BYTES, type HttpResponse } from '../../../src/telemetry/otlp/http-response-reader.js';

const LIMIT = 4 * 1024 * 1024;

/** Feeds `text` to a fresh reader in pieces of `step` bytes; returns the response and the piece it completed on. */
function feed(text: string | Buffer, step: number, limit = LIMIT): { response: HttpResponse | undefined; at: number; reader: HttpResponseReader } {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const reader = new HttpResponseReader(limit);
  for (let at = 0; at < bytes.length; at += step) {
    const response = reader.push(bytes.subarray(at, Math.min(bytes.length, at + step)));
    if (response !== undefined) return { response, at: Math.min(bytes.length, at + step), reader };
  }
  return { response: undefined, at: bytes.length, reader };
}

function expectCode(fn: () => unknown, code: HttpResponseError['code']): void {
  assert.throws(fn, (error: unknown) => error instanceof HttpResponseError && error.code === code);
}

describe('HTTP response reader', () => {
  it('reads a Content-Length response split at every byte, completing on its last byte', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"partial":1}';
    for (const step of [1, 2, 3, 7, text.length]) {
      const { response, at } = feed(text, step);
      assert.ok(response, `step ${step}`);
      assert.equal(at, text.length);
      assert.equal(response.status, 200);
      assert.equal(response.reason, 'OK');
      assert.equal(response.headers.get('content-type'), 'application/json');
      assert.equal(response.body.toString(), '{"partial":1}');
      assert.equal(response.keepAlive, true);
    }
  });

  it('reads chunked coding with chunk extensions and trailers, split at every byte', () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n';
    for (const step of [1, 2, 5, text.length]) {
      const { response, at } = feed(text, step);
      assert.ok(response, `step ${step}`);
      assert.equal(at, text.length);
      assert.equal(response.body.toString(), 'hello 0123456789');
      assert.equal(response.keepAlive, true);
    }
  });

  it('skips interim 1xx heads and reads the final response', () => {
    const { response } = feed('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n', 4);
    assert.equal(response?.status, 202);
    assert.equal(response?.body.length, 0);
  });

  it('a body framed by the end of the connection completes at end() and is not kept alive', () => {
    const reader = new HttpResponseReader(LIMIT);
    assert.equal(reader.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\nsome')), undefined);
    assert.equal(reader.push(Buffer.from(' body')), undefined);
    const response = reader.end();
    assert.equal(response.body.toString(), 'some body');
    assert.equal(response.keepAlive, false);
  });

  it('keep-alive follows the HTTP version and Connection header', () => {
    const cases: [string, boolean][] = [
      ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', true],
      ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', false],
      ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', true],
    ];
    for (const [text, keepAlive] of cases) assert.equal(feed(text, 1).response?.keepAlive, keepAlive, text);
  });

  it('204 and 304 carry no body whatever the headers say; bytes after a response forbid reuse', () => {
    const noBody = feed('HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n', 3).response;
    assert.equal(noBody?.status, 204);
    assert.equal(noBody?.body.length, 0);
    const reader = new HttpResponseReader(LIMIT);
    const response = reader.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA'));
    assert.equal(response?.body.toString(), 'ok');
    assert.equal(reader.trailing, 5);
    assert.equal(response?.keepAlive, false);
  });

  it('bounds the body: by Content-Length at once, by chunks as they come, and to the end of the connection', () => {
    expectCode(() => feed('HTTP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n', 1000, 1024), 'ERR_OTLP_RESPONSE_TOO_LARGE');
    const chunked = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n${'a'.repeat(512)}\r\n201\r\n`;
    expectCode(() => feed(chunked, 64, 1024), 'ERR_OTLP_RESPONSE_TOO_LARGE');
    expectCode(() => feed(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), Buffer.alloc(2048)]), 100, 1024), 'ERR_OTLP_RESPONSE_TOO_LARGE');
    // Exactly at the limit is fine.
    assert.equal(feed(`HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n${'b'.repeat(1024)}`, 50, 1024).response?.body.length, 1024);
  });

  it('bounds the head and chunk lines', () => {
    const endless = Buffer.from(`HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(MAX_RESPONSE_HEAD_BYTES)}`);
    expectCode(() => feed(endless, 4096), 'ERR_OTLP_RESPONSE_HEAD');
    const chunkLine = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${'0'.repeat(MAX_RESPONSE_HEAD_BYTES + 1)}`;
    expectCode(() => feed(chunkLine, 8192), 'ERR_OTLP_RESPONSE_HEAD');
  });

  it('refuses what is not HTTP/1.x: a bad status line, header, length, chunk size or chunk end', () => {
    expectCode(() => feed('SSH-2.0-OpenSSH_9.2\r\n\r\n', 5), 'ERR_OTLP_RESPONSE_MALFORMED');
    expectCode(() => feed('HTTP/2 200\r\n\r\n', 5), 'ERR_OTLP_RESPONSE_MALFORMED');
    expectCode(() => feed('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 5), 'ERR_OTLP_RESPONSE_MALFORMED');
    expectCode(() => feed('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 5), 'ERR_OTLP_RESPONSE_MALFORMED');
    expectCode(() => feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 5), 'ERR_OTLP_RESPONSE_MALFORMED');
    expectCode(() => feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX', 5), 'ERR_OTLP_RESPONSE_MALFORMED');
  });

  it('a connection that ends before the response is complete is a truncation, started or not', () => {
    const silent = new HttpResponseReader(LIMIT);
    assert.equal(silent.started, false);
    expectCode(() => silent.end(), 'ERR_OTLP_RESPONSE_TRUNCATED');
    const { reader } = feed('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', 4);
    assert.equal(reader.started, true);
    expectCode(() => reader.end(), 'ERR_OTLP_RESPONSE_TRUNCATED');
  });
});
