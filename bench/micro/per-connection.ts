/**
 * Micro-benchmarks of the per-connection steps of tcp-echo's telemetry, each in isolation with the
 * real modules (built dist/), measured as this process's CPU time per connection (GC included:
 * every step allocates what it allocates in the server). The span steps run two ways in the same
 * process, interleaved: through the SDK's tracer (before issue 13) and as records (after); the
 * OTLP encoding both ways too (protobuf and JSON): the SDK's serializer (before) and the one-pass
 * encoder (after), alone on one batch, and with the export over HTTP in the pipeline's protocol.
 *
 * Usage: `npm run build && npx tsx bench/micro/per-connection.ts [--connections N] [--rounds R]`
 * prints a Markdown table (µs of CPU per connection, median over rounds).
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { numberFlag, parseFlags } from '../lib/args.js';
import { median } from '../report/figures.js';

const BENCH = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const DIST = path.resolve(BENCH, '..', 'dist');
const load = async <T>(module: string): Promise<T> => (await import(path.join(DIST, module))) as T;

type ConnectionInfoModule = typeof import('../../src/echo/connection-info.js');
type RegistryModule = typeof import('../../src/log/logger-registry.js');
type QueuedSinkModule = typeof import('../../src/log/queued-sink.js');
type SinkTargetModule = typeof import('../../src/log/sink-target.js');
type PipelineModule = typeof import('../../src/telemetry/tracing/pipeline.js');
type TracerModule = typeof import('../../src/telemetry/tracing/otel-connection-tracer.js');
type CountersModule = typeof import('../../src/telemetry/tracing/span-counters.js');
type SettingsModule = typeof import('../../src/telemetry/tracing/settings.js');
type SchemaModule = typeof import('../../src/config/schema.js');
type InstrumentsModule = typeof import('../../src/echo/echo-instruments.js');
type StatsModule = typeof import('../../src/echo/stats.js');
type ConnectionModule = typeof import('../../src/echo/connection.js');
type ProtobufModule = typeof import('../../src/telemetry/tracing/connection-span-protobuf.js');
type SerializerModule = typeof import('../../src/telemetry/tracing/connection-span-serializer.js');
type Info = import('../../src/telemetry/connection-trace.js').ConnectionInfo;
type Logger = import('../../src/log/logger.js').Logger;
type PreparedLineModule = typeof import('../../src/log/prepared-line.js');

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Runs `step` n times in slices of 200 (yielding between them, so timers, I/O and exports run), returns µs of CPU each. */
async function measure(n: number, step: (i: number) => void, settle?: () => Promise<void>): Promise<number> {
  const before = cpuUs();
  for (let i = 0; i < n; i += 200) {
    for (let j = i; j < Math.min(n, i + 200); j++) step(j);
    await new Promise((r) => setImmediate(r));
  }
  if (settle) await settle();
  return (cpuUs() - before) / n;
}

/** The benchmark's OTLP sink (bench/otlp-sink.ts) in its own process, so its CPU is not counted here. */
async function sink(): Promise<{ url: string; spans: () => Promise<number>; close(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH, 'otlp-sink.ts'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`OTLP sink exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    spans: async () => ((await (await fetch(`${url}/stats`)).json()) as { spans: number }).spans,
    close: () => child.kill('SIGTERM'),
  };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const n = numberFlag(flags, 'connections', 20_000, 1000);
  const rounds = numberFlag(flags, 'rounds', 5, 1);
  const { connectionInfo } = await load<ConnectionInfoModule>('echo/connection-info.js');
  const { LoggerRegistry } = await load<RegistryModule>('log/logger-registry.js');
  const { QueuedSink } = await load<QueuedSinkModule>('log/queued-sink.js');
  const { openSinkTarget } = await load<SinkTargetModule>('log/sink-target.js');
  const { TracingPipeline } = await load<PipelineModule>('telemetry/tracing/pipeline.js');
  const { OtelConnectionTracer } = await load<TracerModule>('telemetry/tracing/otel-connection-tracer.js');
  const { SpanCounters } = await load<CountersModule>('telemetry/tracing/span-counters.js');
  const { resolveTracingSettings, tracerSchema } = await load<SettingsModule>('telemetry/tracing/settings.js');
  const { validate } = await load<SchemaModule>('config/schema.js');
  const { registerEchoInstruments } = await load<InstrumentsModule>('echo/echo-instruments.js');
  const { EchoStats } = await load<StatsModule>('echo/stats.js');
  const { EchoConnection } = await load<ConnectionModule>('echo/connection.js');
  const { CountingSpanExporter } = await load<CountersModule>('telemetry/tracing/span-counters.js');
  const { prepareLine } = await load<PreparedLineModule>('log/prepared-line.js');
  const { ConnectionSpanJsonSerializer } = await load<SerializerModule>('telemetry/tracing/connection-span-serializer.js');
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const { JsonTraceSerializer, ProtobufTraceSerializer } = await import('@opentelemetry/otlp-transformer');
  const { OTLPTraceExporter: OTLPProtobufTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const { ConnectionSpanProtobufSerializer } = await load<ProtobufModule>('telemetry/tracing/connection-span-protobuf.js');
  const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace');
  const stats = new EchoStats();
  registerEchoInstruments(new MeterProvider().getMeter('tcp-echo'), stats);

  // Real accepted sockets for the connection-info step.
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => accepted.push(s)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const clients = await Promise.all(Array.from({ length: 64 }, () => new Promise<net.Socket>((r) => { const c = net.connect(port, '127.0.0.1', () => r(c)); })));
  while (accepted.length < 64) await new Promise((r) => setTimeout(r, 5));

  // The log as `full` writes it: tskv at info to a file.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tcp-echo-micro-'));
  const registry = new LoggerRegistry();
  const logSink = new QueuedSink(await openSinkTarget(path.join(dir, 'log.tskv')), { maxLines: 65_536, maxChars: 64 << 20, counters: registry.counters });
  registry.configure({ level: 'info', format: 'tskv', sink: logSink });
  const logger = registry.getLogger('tcp-echo');
  const quiet: Logger = { trace() {}, debug() {}, info() {}, warning() {}, error() {}, critical() {}, line() {}, child: () => quiet, bind: () => quiet, isEnabled: () => false };

  const info = (i: number): Info => ({ fd: 20 + (i % 64), number: i, peerAddress: '127.0.0.1', peerPort: 40000 + (i % 20000), localAddress: '127.0.0.1', localPort: port, networkType: 'ipv4' });
  const outcome = { reason: 'eof', bytesRead: 32, bytesWritten: 32 } as const;
  const connection = (tracer: { start: (info: Info, logger: Logger) => import('../../src/telemetry/connection-trace.js').ConnectionTrace }, log: Logger) => (i: number) => {
    const trace = tracer.start(info(i), log);
    trace.sendStarted();
    trace.sendEnded();
    trace.end(outcome);
  };
  const otlp = await sink();
  const at = { file: 'micro', path: ['tracer'] } as unknown as Parameters<typeof validate>[2];
  const pipeline = new TracingPipeline(
    resolveTracingSettings(validate(tracerSchema, { endpoint: otlp.url, 'schedule-delay': '50ms', 'max-queue-size': 65536 }, at), {}, at),
    quiet,
    new SpanCounters(),
  );
  await pipeline.start();
  const records = pipeline.connections;
  const internals = records as unknown as { tracer: ConstructorParameters<typeof OtelConnectionTracer>[0]; sampler: ConstructorParameters<typeof OtelConnectionTracer>[1]; ids: ConstructorParameters<typeof OtelConnectionTracer>[2] };
  const viaSdk = new OtelConnectionTracer(internals.tracer, internals.sampler, internals.ids, 'ask');
  // Records exported with the SDK's OTLPTraceExporter (its generic JSON serializer): the pipeline
  // before the one-pass encoder, with the same batch settings, counted the same way.
  const settings = (pipeline as unknown as { settings: { otlp: { url: string }; maxExportBatchSize: number; protocol: string } }).settings;
  // The pipeline's protocol (http/protobuf unless OTEL_EXPORTER_OTLP_PROTOCOL says otherwise).
  const protobuf = settings.protocol === 'http/protobuf';
  const sdkJsonCounters = new SpanCounters();
  const sdkJsonBatch = new BatchSpanProcessor({
    exporter: new CountingSpanExporter(
      protobuf ? new OTLPProtobufTraceExporter({ url: settings.otlp.url }) : new OTLPTraceExporter({ url: settings.otlp.url }),
      sdkJsonCounters,
    ),
    maxQueueSize: 65536,
    maxExportBatchSize: settings.maxExportBatchSize,
    scheduledDelayMillis: 50,
  });
  const scope = { name: 'tcp-echo', version: undefined, schemaUrl: undefined };
  const recordsSdkJson = new OtelConnectionTracer(internals.tracer, internals.sampler, internals.ids, 'ask', { resource: pipeline.resource, scope, processors: [sdkJsonBatch] });
  // A batch of records as the exporter gets it, for the encoders alone.
  const batchOf: import('@opentelemetry/sdk-trace').ReadableSpan[] = [];
  const collecting = new OtelConnectionTracer(internals.tracer, internals.sampler, internals.ids, 'ask', { resource: pipeline.resource, scope, processors: [{ onEnd: (span) => void batchOf.push(span) }] });
  for (let i = 0; i < settings.maxExportBatchSize / 2; i++) connection(collecting, quiet)(i);
  const perConnection = batchOf.length / 2;
  // A pipeline whose spans go nowhere: construction alone.
  const noExport = new TracingPipeline(resolveTracingSettings(validate(tracerSchema, { 'log-spans': 'never' }, at), {}, at), quiet, new SpanCounters());
  const noExportInternals = noExport.connections as unknown as typeof internals;
  const buildOnlySdk = new OtelConnectionTracer(noExportInternals.tracer, noExportInternals.sampler, noExportInternals.ids, 'ask');
  const buildOnlyRecords = noExport.connections;

  // Exports finish: the spans of a round are exported (counted by the pipeline) before the clock stops.
  const flushSpans = async (): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (pipeline.counters.exported < exportedTarget && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  };
  let exportedTarget = 0;

  // The connection object on a socket that is not connected: listeners, pipe, bookkeeping and the
  // close path (counters, histogram record), with tracing off and logging off, minus the socket itself.
  const NOOP_TRACER = { start: (_info: Info, log: Logger) => ({ logger: log, sendStarted() {}, sendEnded() {}, end() {} }) };
  const deps = { stats, tracer: NOOP_TRACER, logger: quiet, idleTimeoutMs: 0, onClosed: () => {} };
  const steps: { name: string; run: () => Promise<number> }[] = [
    { name: '(a bare net.Socket object, for reference)', run: () => measure(n, () => void new net.Socket()) },
    {
      name: 'listeners, pipe, close bookkeeping (EchoConnection on a bare Socket, minus the Socket)',
      run: async () => {
        const withSocket = await measure(n, (i) => {
          const socket = new net.Socket();
          const connection = new EchoConnection(socket, info(i), deps);
          connection.handleClose();
        });
        return withSocket - (await measure(n, () => void new net.Socket()));
      },
    },
    {
      name: '(socket.pipe(socket) alone, as the bare echo does, minus the Socket)',
      run: async () => {
        const piped = await measure(n, () => {
          const socket = new net.Socket();
          socket.pipe(socket);
        });
        return piped - (await measure(n, () => void new net.Socket()));
      },
    },
    { name: 'histogram record (connection duration)', run: () => measure(n, (i) => stats.recordDuration((i % 100) / 1000)) },
    { name: 'connection info (getpeername, getsockname, fd)', run: () => measure(n, (i) => void connectionInfo(accepted[i % 64]!, i)) },
    { name: 'logger child (trace_id, span_id, fd bound)', run: () => measure(n, (i) => void logger.child({ trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331', fd: i % 1000 })) },
    {
      name: 'two log lines, generic fields (before; tskv, queued, written to a file)',
      run: async () => {
        const child = logger.child({ trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331', fd: 17 });
        return measure(
          n,
          (i) => {
            child.info('Accepted connection', { sock_number: i, peer_address: '127.0.0.1', peer_port: 40000 + (i % 20000) });
            child.info('Closing socket', { reason: 'eof', bytes_read: 32, bytes_written: 32, duration_ms: 1, error: undefined });
          },
          async () => void (await logSink.flush(30_000)),
        );
      },
    },
    {
      // The lines as connection.ts writes them now: text and keys prepared once, values as arguments.
      name: 'two log lines, prepared (after; tskv, queued, written to a file)',
      run: async () => {
        const accepted = prepareLine('info', 'Accepted connection', ['sock_number', 'peer_address', 'peer_port']);
        const closing = prepareLine('info', 'Closing socket', ['reason', 'bytes_read', 'bytes_written', 'duration_ms', 'error']);
        const child = logger.child({ trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331', fd: 17 });
        return measure(
          n,
          (i) => {
            child.line(accepted, i, '127.0.0.1', 40000 + (i % 20000));
            child.line(closing, 'eof', 32, 32, 1, undefined);
          },
          async () => void (await logSink.flush(30_000)),
        );
      },
    },
    { name: 'span ids and sampling at accept, logger child (start)', run: () => measure(n, (i) => void buildOnlyRecords.start(info(i), quiet)) },
    { name: 'spans built, SDK tracer (before), no export', run: () => measure(n, connection(buildOnlySdk, quiet)) },
    { name: 'spans built as records (after), no export', run: () => measure(n, connection(buildOnlyRecords, quiet)) },
    {
      name: `spans built + OTLP ${protobuf ? 'protobuf' : 'JSON'} encoding + export HTTP, SDK tracer (before)`,
      run: () => {
        exportedTarget = pipeline.counters.exported + 2 * n;
        return measure(n, connection(viaSdk, quiet), flushSpans);
      },
    },
    { name: 'OTLP protobuf encoding alone, SDK serializer (before)', run: () => measure(n / perConnection, () => void ProtobufTraceSerializer.serializeRequest(batchOf)).then((us) => us / perConnection) },
    { name: 'OTLP protobuf encoding alone, one pass (after)', run: () => measure(n / perConnection, () => void ConnectionSpanProtobufSerializer.serializeRequest(batchOf)).then((us) => us / perConnection) },
    { name: 'OTLP JSON encoding alone, SDK serializer (before)', run: () => measure(n / perConnection, () => void JsonTraceSerializer.serializeRequest(batchOf)).then((us) => us / perConnection) },
    { name: 'OTLP JSON encoding alone, one pass (after)', run: () => measure(n / perConnection, () => void ConnectionSpanJsonSerializer.serializeRequest(batchOf)).then((us) => us / perConnection) },
    {
      name: `records + OTLP ${protobuf ? 'protobuf' : 'JSON'} encoding (SDK serializer) + export HTTP (before)`,
      run: async () => {
        const target = sdkJsonCounters.exported + 2 * n;
        return measure(n, connection(recordsSdkJson, quiet), async () => {
          const deadline = Date.now() + 30_000;
          while (sdkJsonCounters.exported < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        });
      },
    },
    {
      name: `records + OTLP ${protobuf ? 'protobuf' : 'JSON'} encoding (one pass) + export HTTP (after)`,
      run: () => {
        exportedTarget = pipeline.counters.exported + 2 * n;
        return measure(n, connection(records, quiet), flushSpans);
      },
    },
  ];
  const results = new Map<string, number[]>(steps.map((s) => [s.name, []]));
  for (let round = 0; round < rounds; round++) {
    // Alternating order, as the benchmark does, so a drift favours neither.
    for (const step of round % 2 === 0 ? steps : [...steps].reverse()) results.get(step.name)!.push(await step.run());
  }
  const lines = ['| step (µs of CPU per connection, GC included) | median | rounds |', '|---|---:|---|'];
  for (const [name, values] of results) lines.push(`| ${name} | ${median(values)!.toFixed(2)} | ${values.map((v) => v.toFixed(1)).join(', ')} |`);
  process.stdout.write(`${lines.join('\n')}\n\n${n} connections per step and round, ${rounds} rounds, Node.js ${process.version}\n`);

  for (const c of clients) c.destroy();
  server.close();
  await pipeline.shutdown(5000);
  await noExport.shutdown(1000);
  await sdkJsonBatch.shutdown();
  await logSink.close(5000);
  otlp.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  process.stderr.write(`micro: ${(error as Error).stack}\n`);
  process.exitCode = 1;
});
