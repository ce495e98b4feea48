/**
 * The messages between the monitor's HTTP thread (http-thread.ts: sockets, parsing, limits) and
 * the `server` component on the main thread (routes' handlers). Plain data only: they cross the
 * thread boundary by structured clone, so a Buffer arrives as a Uint8Array.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteSpec } from './http.js';
import type { ListenerConfig } from './server-component.js';

/** What the thread starts with. */
export interface HttpThreadData {
  readonly config: ListenerConfig;
  /** Every route, in the order the handlers were added: a request names its route by index. */
  readonly routes: readonly RouteSpec[];
  /** For a ListenError that names the config key to change. */
  readonly portKey: string;
  readonly component: string;
}

/** A request whose route was found and whose body was read, for the main thread to answer. */
export interface ThreadRequest {
  readonly kind: 'request';
  readonly id: number;
  readonly route: number;
  readonly method: string;
  readonly path: string;
  /** The query string without `?`. */
  readonly query: string;
  readonly pathParams: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly body: Uint8Array;
}

/** From the thread to the main thread. */
export type FromHttpThread =
  | { readonly kind: 'listening'; readonly address: string; readonly port: number }
  | { readonly kind: 'listen-failed'; readonly message: string; readonly causeCode: string | undefined }
  | ThreadRequest
  | { readonly kind: 'log'; readonly level: 'warning' | 'error'; readonly text: string; readonly fields: Readonly<Record<string, string>> }
  | { readonly kind: 'stopped' };

/** From the main thread to the thread. */
export type ToHttpThread =
  | {
      readonly kind: 'answer';
      readonly id: number;
      readonly status: number;
      readonly headers: Readonly<Record<string, string>> | undefined;
      readonly body: string | Uint8Array;
    }
  /** A route added after the thread started; its index is the next one. */
  | { readonly kind: 'route'; readonly spec: RouteSpec }
  | { readonly kind: 'stop' };
