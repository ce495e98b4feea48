/**
 * Routes of the monitor listener: exact segments and `{name}` segments (one non-empty segment
 * each). A static segment wins over a parameter at the same position (`/tests/control` over
 * `/tests/{action}`). Two routes with the same shape and a common method conflict.
 */
import { METHODS } from 'node:http';
import { HttpRouteConflictError } from '../errors.js';
import { nearest } from '../config/nearest.js';
import type { HttpHandler, RouteSpec } from './http.js';

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_-]*)\}$/;

type Segment = { readonly param: string } | { readonly literal: string };

interface RouteEntry {
  readonly handler: HttpHandler;
  readonly template: string;
  readonly owner: string | undefined;
  /** This route's own segments: parameter names may differ between routes of one shape. */
  readonly segments: readonly Segment[];
}

interface RouteGroup {
  /** The template with parameter names erased: `/tests/{}`. Routes with one shape share a group. */
  readonly shape: string;
  readonly segments: readonly Segment[];
  readonly handlers: Map<string, RouteEntry>;
}

/** What a request's method and path lead to. */
export type RouteMatch =
  | { readonly kind: 'found'; readonly handler: HttpHandler; readonly params: Record<string, string> }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not-found' };

/**
 * Why `template` is not a valid path template, or undefined when it is. Valid: starts with `/`,
 * segments are non-empty literals or `{name}`, no `?` or `#`, parameter names unique.
 */
export function pathTemplateProblem(template: string): string | undefined {
  if (!template.startsWith('/')) return `must start with '/'`;
  if (/[?#\s]/.test(template)) return `must not contain '?', '#' or whitespace`;
  if (template === '/') return undefined;
  const names = new Set<string>();
  for (const segment of template.slice(1).split('/')) {
    if (segment === '') return `must not contain empty segments ('//' or a trailing '/')`;
    const param = PARAM.exec(segment);
    if (param) {
      if (names.has(param[1] as string)) return `repeats the parameter {${param[1]}}`;
      names.add(param[1] as string);
    } else if (/[{}]/.test(segment)) {
      return `has a malformed parameter segment '${segment}' (expected {name})`;
    }
  }
  return undefined;
}

/** Parses userver's `method` value: `GET`, `GET,POST` or a list. Throws on an empty or bad name. */
export function parseMethods(method: string | readonly string[]): string[] {
  const list = typeof method === 'string' ? method.split(',') : [...method];
  const methods = list.map((m) => m.trim().toUpperCase());
  for (const m of methods) {
    if (!METHODS.includes(m)) {
      const hint = nearest(m, METHODS);
      throw new TypeError(`'${m}' is not an HTTP method${hint ? `; did you mean '${hint}'?` : ''} (expected e.g. GET or GET,POST)`);
    }
  }
  if (methods.length === 0) throw new TypeError('no HTTP method given');
  return [...new Set(methods)];
}

/** The route table. */
export class Router {
  readonly #groups: RouteGroup[] = [];

  /** Adds a route; throws HttpRouteConflictError if a method of it is already served at that shape. */
  add(spec: RouteSpec, handler: HttpHandler): void {
    const problem = pathTemplateProblem(spec.path);
    if (problem) throw new TypeError(`path template '${spec.path}' ${problem}`);
    const methods = parseMethods(spec.method);
    const segments = parseSegments(spec.path);
    const shape = '/' + segments.map((s) => ('param' in s ? '{}' : s.literal)).join('/');
    let group = this.#groups.find((g) => g.shape === shape);
    if (group) {
      for (const m of methods) {
        const existing = group.handlers.get(m);
        if (existing) {
          throw new HttpRouteConflictError(
            `route ${m} ${spec.path}${spec.owner ? ` (${spec.owner})` : ''} conflicts with ${m} ${existing.template}` +
              `${existing.owner ? ` registered by ${existing.owner}` : ''}`,
          );
        }
      }
    } else {
      group = { shape, segments, handlers: new Map() };
      this.#groups.push(group);
    }
    for (const m of methods) group.handlers.set(m, { handler, template: spec.path, owner: spec.owner, segments });
  }

  /** Finds the handler for `method` and `path` (the path as sent, without the query). */
  match(method: string, path: string): RouteMatch {
    const parts = path === '/' ? [] : path.slice(1).split('/');
    let best: { group: RouteGroup } | undefined;
    for (const group of this.#groups) {
      if (matchSegments(group.segments, parts) && (!best || moreSpecific(group.segments, best.group.segments))) {
        best = { group };
      }
    }
    if (!best) return { kind: 'not-found' };
    const effective = method === 'HEAD' && !best.group.handlers.has('HEAD') ? 'GET' : method;
    const route = best.group.handlers.get(effective);
    if (!route) {
      const allow = [...best.group.handlers.keys()];
      if (allow.includes('GET') && !allow.includes('HEAD')) allow.push('HEAD');
      return { kind: 'method-not-allowed', allow };
    }
    return { kind: 'found', handler: route.handler, params: matchSegments(route.segments, parts) ?? {} };
  }
}

function parseSegments(template: string): Segment[] {
  if (template === '/') return [];
  return template
    .slice(1)
    .split('/')
    .map((segment) => {
      const param = PARAM.exec(segment);
      return param ? { param: param[1] as string } : { literal: segment };
    });
}

function matchSegments(segments: readonly Segment[], parts: readonly string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as Segment;
    const part = parts[i] as string;
    if ('literal' in segment) {
      if (segment.literal !== part) return undefined;
    } else {
      if (part === '') return undefined;
      params[segment.param] = part;
    }
  }
  return params;
}

// Literal beats parameter at the first position where two matching shapes differ.
function moreSpecific(a: readonly Segment[], b: readonly Segment[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const aLiteral = 'literal' in (a[i] as Segment);
    const bLiteral = 'literal' in (b[i] as Segment);
    if (aLiteral !== bLiteral) return aLiteral;
  }
  return false;
}
