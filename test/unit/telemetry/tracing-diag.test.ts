import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { globalErrorHandler } from '@opentelemetry/core';
import type { LogFields, LogLevel, Logger } from '../../../src/log/logger.js';
import {
  diagLevelFromEnv,
  installDiagLogger,
  RateLimitedDiagLogger,
} from '../../../src/telemetry/tracing/diag-logger.js';

interface Line {
  level: LogLevel;
  text: string;
  fields: LogFields | undefined;
}

function recorder(lines: Line[], minimum: LogLevel = 'debug'): Logger {
  const order: LogLevel[] = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'none'];
  const on = (l: LogLevel) => order.indexOf(l) >= order.indexOf(minimum);
  const m = (level: LogLevel) => (text: string, fields?: LogFields) => void (on(level) && lines.push({ level, text, fields }));
  const logger: Logger = {
    trace: m('trace'),
    debug: m('debug'),
    info: m('info'),
    warning: m('warning'),
    error: m('error'),
    critical: m('critical'),
    child: () => logger,
    bind: () => logger,
    isEnabled: on,
    line: (prepared, v0, v1, v2, v3, v4) => void (on(prepared.level) && lines.push({ level: prepared.level, text: prepared.text, fields: prepared.fields(v0, v1, v2, v3, v4) })),
  };
  return logger;
}

describe('RateLimitedDiagLogger', () => {
  it('maps error and warn to warning, info to info, debug and verbose to debug', () => {
    const lines: Line[] = [];
    const d = new RateLimitedDiagLogger(recorder(lines));
    d.error('e');
    d.warn('w');
    d.info('i');
    d.debug('d');
    d.verbose('v');
    assert.deepEqual(
      lines.map((l) => `${l.level}:${l.text}`),
      ['warning:e', 'warning:w', 'info:i', 'debug:d', 'debug:v'],
    );
  });

  it('formats errors with their code and objects compactly, and bounds the length', () => {
    const lines: Line[] = [];
    const d = new RateLimitedDiagLogger(recorder(lines));
    d.error('export failed', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4318'), { code: 'ECONNREFUSED' }));
    d.warn('details', { status: 500, nested: { a: [1, 2] } });
    d.warn('x'.repeat(5000));
    assert.equal(lines[0]!.text, 'export failed Error: connect ECONNREFUSED 127.0.0.1:4318 (ECONNREFUSED)');
    assert.equal(lines[1]!.text, 'details { status: 500, nested: { a: [ 1, 2 ] } }');
    assert.equal(lines[2]!.text.length, 1000);
    assert.ok(lines[2]!.text.endsWith('...'));
  });

  it('writes at most `lines` per window and reports how many it suppressed', () => {
    const lines: Line[] = [];
    let now = 1_000_000;
    const d = new RateLimitedDiagLogger(recorder(lines), { lines: 3, windowMs: 10_000 }, () => now);
    for (let i = 0; i < 100; i++) d.error(`failure ${i}`);
    assert.equal(lines.length, 3);
    assert.equal(d.suppressedTotal, 97);
    now += 10_000;
    d.error('next window');
    assert.equal(lines.length, 4);
    assert.equal(lines[3]!.text, 'next window');
    assert.deepEqual(lines[3]!.fields, { suppressed: 97 });
    d.error('and again');
    assert.equal(lines[4]!.fields, undefined);
  });

  it('costs nothing and counts nothing when our logger has the level off', () => {
    const lines: Line[] = [];
    const d = new RateLimitedDiagLogger(recorder(lines, 'error'), { lines: 1, windowMs: 1000 });
    for (let i = 0; i < 10; i++) d.warn('w');
    assert.equal(lines.length, 0);
    assert.equal(d.suppressedTotal, 0);
  });
});

describe('OTEL_LOG_LEVEL', () => {
  it('parses the spec values in any case, defaults to warn, rejects others', () => {
    assert.equal(diagLevelFromEnv(undefined), DiagLogLevel.WARN);
    assert.equal(diagLevelFromEnv(' '), DiagLogLevel.WARN);
    assert.equal(diagLevelFromEnv('debug'), DiagLogLevel.DEBUG);
    assert.equal(diagLevelFromEnv('ERROR'), DiagLogLevel.ERROR);
    assert.equal(diagLevelFromEnv('none'), DiagLogLevel.NONE);
    assert.equal(diagLevelFromEnv('all'), DiagLogLevel.ALL);
    assert.equal(diagLevelFromEnv('loud'), undefined);
  });

  it('installDiagLogger routes the global diag and error handler at the chosen level, and removes them again', () => {
    const lines: Line[] = [];
    const remove = installDiagLogger(new RateLimitedDiagLogger(recorder(lines)), DiagLogLevel.WARN);
    diag.info('not at warn');
    diag.warn('routed');
    globalErrorHandler(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4318'), { code: 'ECONNREFUSED' }));
    remove();
    diag.warn('after removal');
    assert.deepEqual(
      lines.map((l) => l.text),
      ['routed', 'OpenTelemetry error: Error: connect ECONNREFUSED 127.0.0.1:4318 (ECONNREFUSED)'],
    );
  });
});
