/** The monitor route table: templates, specificity, 404/405 outcomes, conflicts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpRouteConflictError } from '../../../src/errors.js';
import type { HttpHandler } from '../../../src/monitor/http.js';
import { parseMethods, pathTemplateProblem, Router } from '../../../src/monitor/router.js';

const h = (body: string): HttpHandler => () => ({ status: 200, body });

test('templates: exact paths and {name} segments; malformed ones are described', () => {
  for (const ok of ['/', '/ping', '/tests/{action}', '/a/{x}/b/{y}', '/service/monitor']) {
    assert.equal(pathTemplateProblem(ok), undefined, ok);
  }
  const bad: Array<[string, RegExp]> = [
    ['ping', /start with '\/'/],
    ['/a//b', /empty segments/],
    ['/a/', /empty segments/],
    ['/a?b', /'\?'/],
    ['/a/{x}/{x}', /repeats the parameter \{x\}/],
    ['/a/{x', /malformed parameter segment/],
    ['/a/{}', /malformed parameter segment/],
  ];
  for (const [template, message] of bad) assert.match(pathTemplateProblem(template) ?? '', message, template);
});

test('methods: userver comma lists, case-insensitive, deduplicated; junk is rejected', () => {
  assert.deepEqual(parseMethods('GET'), ['GET']);
  assert.deepEqual(parseMethods('get, POST,GET'), ['GET', 'POST']);
  assert.deepEqual(parseMethods(['put']), ['PUT']);
  assert.throws(() => parseMethods('GET,'), /is not an HTTP method/);
  assert.throws(() => parseMethods('G ET'), /is not an HTTP method/);
  assert.throws(() => parseMethods('GET,PST'), /'PST' is not an HTTP method; did you mean 'POST'\?/);
});

test('match: parameters, static-over-parameter, 404 and 405 with Allow (HEAD with GET)', async () => {
  const router = new Router();
  router.add({ method: 'POST', path: '/tests/{action}' }, h('action'));
  router.add({ method: 'POST', path: '/tests/special' }, h('special'));
  router.add({ method: 'GET', path: '/ping' }, h('ping'));
  router.add({ method: 'GET', path: '/' }, h('root'));

  const found = router.match('POST', '/tests/reset_metrics');
  assert.equal(found.kind, 'found');
  if (found.kind === 'found') {
    assert.deepEqual(found.params, { action: 'reset_metrics' });
    assert.equal((await found.handler({} as never)).body, 'action');
  }
  const special = router.match('POST', '/tests/special');
  assert.ok(special.kind === 'found' && (await special.handler({} as never)).body === 'special');
  const root = router.match('GET', '/');
  assert.ok(root.kind === 'found' && (await root.handler({} as never)).body === 'root');
  assert.equal(router.match('HEAD', '/ping').kind, 'found');

  assert.deepEqual(router.match('GET', '/tests/x'), { kind: 'method-not-allowed', allow: ['POST'] });
  assert.deepEqual(router.match('DELETE', '/ping'), { kind: 'method-not-allowed', allow: ['GET', 'HEAD'] });
  for (const path of ['/tests', '/tests/', '/tests/a/b', '/pingx', '/ping/', '//ping']) {
    assert.equal(router.match('POST', path).kind, 'not-found', path);
  }
});

test('conflicts: same shape and method, whatever the parameter name; other methods may share a path', () => {
  const router = new Router();
  router.add({ method: 'POST', path: '/tests/{action}', owner: 'tests-control' }, h('a'));
  assert.throws(
    () => router.add({ method: 'GET,POST', path: '/tests/{other}', owner: 'my-handler' }, h('b')),
    (e: unknown) =>
      e instanceof HttpRouteConflictError &&
      e.code === 'ECHO_ERR_HTTP_ROUTE_CONFLICT' &&
      e.message === 'route POST /tests/{other} (my-handler) conflicts with POST /tests/{action} registered by tests-control',
  );
  router.add({ method: 'GET', path: '/tests/{other}' }, h('c'));
  const get = router.match('GET', '/tests/x');
  assert.ok(get.kind === 'found' && get.params.other === 'x');
  assert.throws(() => router.add({ method: 'GET', path: 'nope' }, h('d')), /must start with/);
});
