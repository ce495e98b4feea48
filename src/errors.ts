/**
 * Every error tcp-echo raises on purpose, each with a stable literal `code`
 * (`ECHO_ERR_<AREA>_<WHAT>`), so callers and tests match on codes, never on messages.
 */

/** Base of every tcp-echo error: a message a person can act on, plus a machine-readable code. */
export abstract class EchoError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Where in a config file a problem is: the file and the dotted key path. */
export interface ConfigLocation {
  /** The config (or config vars) file the value came from. */
  readonly file: string;
  /** Dotted key path, e.g. `components_manager.components.tcp-echo.port`. */
  readonly keyPath: string;
}

/** Base of config errors: the message always starts with `file: key.path:`. */
export abstract class ConfigError extends EchoError {
  readonly file: string;
  readonly keyPath: string;
  constructor(location: ConfigLocation, problem: string, options?: { cause?: unknown }) {
    super(`${location.file}: ${location.keyPath || '<root>'}: ${problem}`, options);
    this.file = location.file;
    this.keyPath = location.keyPath;
  }
}

/** The command line is malformed (unknown flag, missing value). */
export class CliUsageError extends EchoError {
  readonly code = 'ECHO_ERR_CLI_USAGE';
}

/** A config or config-vars file is missing or unreadable. */
export class ConfigFileError extends ConfigError {
  readonly code = 'ECHO_ERR_CONFIG_FILE';
}

/** A config file is not valid YAML. */
export class ConfigSyntaxError extends ConfigError {
  readonly code = 'ECHO_ERR_CONFIG_SYNTAX';
}

/** A value has the wrong type, is out of range, or is not one of the allowed values. */
export class ConfigValueError extends ConfigError {
  readonly code = 'ECHO_ERR_CONFIG_VALUE';
}

/** A required key is absent. */
export class ConfigMissingKeyError extends ConfigError {
  readonly code = 'ECHO_ERR_CONFIG_MISSING_KEY';
}

/** A key the schema does not declare (the message suggests the nearest valid key). */
export class ConfigUnknownKeyError extends ConfigError {
  readonly code = 'ECHO_ERR_CONFIG_UNKNOWN_KEY';
}

/** `$name` refers to a config var that no vars file defines and that has no fallback. */
export class ConfigVarMissingError extends ConfigError {
  readonly code = 'ECHO_ERR_CONFIG_VAR_MISSING';
}

/** A component asked for another component that is not loaded. */
export class ComponentMissingError extends EchoError {
  readonly code = 'ECHO_ERR_COMPONENT_MISSING';
}

/** A component failed to start (the cause says why). */
export class ComponentStartError extends EchoError {
  readonly code = 'ECHO_ERR_COMPONENT_START';
}

/** A listener could not bind its address and port. */
export class ListenError extends EchoError {
  readonly code = 'ECHO_ERR_LISTEN_BIND';
}

/** An HTTP route was registered twice. */
export class HttpRouteConflictError extends EchoError {
  readonly code = 'ECHO_ERR_HTTP_ROUTE_CONFLICT';
}

/** A log file could not be opened or written. */
export class LogSinkError extends EchoError {
  readonly code = 'ECHO_ERR_LOG_SINK';
}

/** The testsuite log capture could not connect to pytest_userver's capture socket. */
export class LogCaptureError extends EchoError {
  readonly code = 'ECHO_ERR_LOG_CAPTURE_CONNECT';
}

/**
 * Base of the errors a monitor request is answered with: each carries its HTTP status, and the
 * listener answers `{code, message}` with that status.
 */
export abstract class HttpError extends EchoError {
  /** The HTTP status of the answer. */
  abstract readonly status: number;
}

/** An HTTP request was malformed (bad query parameter, bad body, bad target): answered with a 400. */
export class HttpBadRequestError extends HttpError {
  readonly code = 'ECHO_ERR_HTTP_BAD_REQUEST';
  readonly status = 400;
}

/** A request body is larger than `max_body_size`: answered with a 413 (and the connection closed). */
export class HttpPayloadTooLargeError extends HttpError {
  readonly code = 'ECHO_ERR_HTTP_PAYLOAD_TOO_LARGE';
  readonly status = 413;
}

/** A state-changing request a browser on another site could have sent (CSRF): answered with a 403. */
export class HttpCrossSiteError extends HttpError {
  readonly code = 'ECHO_ERR_HTTP_CROSS_SITE';
  readonly status = 403;
}

/** A request body of a media type the handler does not take: answered with a 415. */
export class HttpUnsupportedMediaTypeError extends HttpError {
  readonly code = 'ECHO_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE';
  readonly status = 415;
}

/** No handler serves the requested path, or the path names an unknown action: answered with a 404. */
export class HttpNotFoundError extends HttpError {
  readonly code = 'ECHO_ERR_HTTP_NOT_FOUND';
  readonly status = 404;
}

/** The path exists but not for the request's method: answered with a 405 and an `Allow` header. */
export class HttpMethodNotAllowedError extends HttpError {
  readonly code = 'ECHO_ERR_HTTP_METHOD_NOT_ALLOWED';
  readonly status = 405;
}

/** The code of the bare 500 a request gets when a handler fails unexpectedly (no stack, no details). */
export const HTTP_INTERNAL_ERROR_CODE = 'ECHO_ERR_HTTP_INTERNAL';

/** An echo worker process (cluster mode) failed to start; the message is the worker's own error. */
export class ClusterWorkerError extends EchoError {
  readonly code = 'ECHO_ERR_CLUSTER_WORKER';
}

/** The message of any thrown value: an Error's `message`, anything else as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
