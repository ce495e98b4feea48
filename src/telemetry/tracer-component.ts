/** Placeholder: replaced by the real tracer (OpenTelemetry spans per connection, OTLP/HTTP, span log). */
import { defineComponent, type Component } from '../components/component.js';
import { object } from '../config/schema.js';
import { NOOP_CONNECTION_TRACER, type ConnectionTracer } from './connection-trace.js';

/** Tracing for the service. */
export class TracerComponent implements Component {
  start(): void {}
  stop(): void {}
  /** Starts one ConnectionTrace per accepted socket. */
  readonly connections: ConnectionTracer = NOOP_CONNECTION_TRACER;
}

export const tracerComponent = defineComponent({
  name: 'tracer',
  loadByDefault: true,
  schema: object({ description: 'placeholder', properties: {} }),
  create: () => new TracerComponent(),
});
