/**
 * Components of userver's component list that tcp-echo has no use for, accepted so that a userver
 * config (the sample's `static_config.yaml`, or one pytest_userver rewrote) starts unchanged:
 * `testsuite-support`, `http-client`, `http-client-core` and `dns-client`. Each section is
 * validated against the schema of the userver component of that name (unknown keys stay errors,
 * as in userver) and then logged once, at start, as accepted with no effect.
 */
import { array, boolean, duration, integer, object, optional, string, type AnySchema } from '../../config/schema.js';
import { getLogger } from '../../log/index.js';
import { defineComponent, type ComponentDefinition } from '../component.js';

const log = getLogger('userver-compat');

const IGNORED = 'accepted for userver compatibility; no effect in tcp-echo';

const bool = (description: string) => optional(boolean({ description }));
const text = (description: string) => optional(string({ description }));
const time = (description: string) => optional(duration({ description, minimum: 0 }));
const count = (description: string) => optional(integer({ description, minimum: 0 }));

/** userver's `testsuite-support` (its 13 keys; pytest_userver's hook writes most of them). */
const testsuiteSupportSchema = object({
  description: `userver's testsuite support (${IGNORED}: tcp-echo has no caches, dumps, databases or periodic tasks)`,
  properties: {
    'testsuite-periodic-update-enabled': bool('whether caches update periodically'),
    'testsuite-periodic-dumps-enabled': bool('whether dumpable components write dumps periodically'),
    'testsuite-pg-execute-timeout': time('execute timeout override for postgres'),
    'testsuite-pg-statement-timeout': time('statement timeout override for postgres'),
    'testsuite-pg-readonly-master-expected': bool('mutes the readonly master detection warning'),
    'testsuite-redis-timeout-connect': time('minimum connection timeout for redis'),
    'testsuite-redis-timeout-single': time('minimum single shard timeout for redis'),
    'testsuite-redis-timeout-all': time('minimum command timeout for redis'),
    'testsuite-grpc-is-tls-enabled': bool('whether gRPC clients use TLS'),
    'testsuite-grpc-client-timeout-ms': count('forced timeout of gRPC client requests, milliseconds'),
    'testsuite-tasks-enabled': bool('whether testsuite tasks are enabled'),
    'testsuite-increased-timeout': time('timeouts increased for testing (sanitizers, debug builds)'),
    'cache-update-execution': optional(
      string({ description: 'how caches are updated on invalidation', enum: ['concurrent', 'sequential'] }),
    ),
  },
});

/** userver's HTTP client options (`http-client`, and `http-client-core` in newer userver). */
const httpClientProperties: Record<string, AnySchema> = {
  'pool-statistics-disable': bool('disable connection pool statistics'),
  'thread-name-prefix': text('OS thread name prefix'),
  threads: count('threads for low-level HTTP I/O'),
  'defer-events': bool('defer event execution to a periodic timer'),
  'fs-task-processor': text('task processor for blocking calls'),
  'destination-metrics-auto-max-size': count('most destination metrics created automatically'),
  'user-agent': text('User-Agent header of every request'),
  'bootstrap-http-proxy': text('HTTP proxy used at start'),
  'testsuite-enabled': bool('testsuite support (pytest_userver sets it)'),
  'testsuite-timeout': time('request timeout forced by testsuite'),
  'testsuite-allowed-url-prefixes': optional(
    array({ description: 'URL prefixes requests may go to under testsuite', items: string({ description: 'a URL prefix' }) }),
  ),
  dns_resolver: optional(string({ description: 'hostname resolver', enum: ['getaddrinfo', 'async'] })),
  'set-deadline-propagation-header': bool('send the deadline propagation header'),
  plugins: optional(array({ description: 'HTTP client plugin names', items: string({ description: 'a plugin name' }) })),
  'cancellation-policy': optional(string({ description: 'cancellation policy of new requests', enum: ['cancel', 'ignore'] })),
};

const httpClientSchema = object({
  description: `userver's HTTP client (${IGNORED}: tcp-echo makes no HTTP requests)`,
  properties: httpClientProperties,
});

/** userver's asynchronous DNS resolver. */
const dnsClientSchema = object({
  description: `userver's asynchronous DNS resolver (${IGNORED}: tcp-echo resolves nothing)`,
  properties: {
    'fs-task-processor': text('task processor for blocking calls'),
    'hosts-file-path': text('path of the hosts file'),
    'hosts-file-update-interval': time('how often the hosts file is reread'),
    'network-timeout': time('timeout of a network query'),
    'network-attempts': count('attempts per network query'),
    'network-custom-servers': optional(
      array({ description: 'DNS servers to ask instead of the system ones', items: string({ description: 'a server address' }) }),
    ),
    'cache-ways': count('ways of the resolver cache'),
    'cache-size-per-way': count('entries per cache way'),
    'cache-max-reply-ttl': time('longest time a reply is cached'),
    'cache-failure-ttl': time('how long a failure is cached'),
  },
});

/** A component that validates its section, says once that it has no effect, and does nothing. */
function accepted(name: string, schema: ReturnType<typeof object>): ComponentDefinition {
  return defineComponent({
    name,
    schema,
    create: () => ({
      // Logged at start, once the logging component has set the destination.
      start: () => log.info(`component '${name}' is ${IGNORED}`),
      stop() {},
    }),
  });
}

/** The accepted-only components, in the order they are listed. */
export const ACCEPTED_USERVER_COMPONENTS: readonly ComponentDefinition[] = [
  accepted('testsuite-support', testsuiteSupportSchema),
  accepted('http-client-core', httpClientSchema),
  accepted('http-client', httpClientSchema),
  accepted('dns-client', dnsClientSchema),
];
