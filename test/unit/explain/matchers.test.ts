/** Envoy matching re-implemented for explain: request parsing, domains, paths, headers, query parameters. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headerMatches, pathMatches, queryMatches, routeMatches, selectVirtualHost } from '../../../src/explain/matchers.js';
import { parseRequest, type ExplainRequest } from '../../../src/explain/request.js';

function req(...tokens: string[]): ExplainRequest {
  const r = parseRequest(tokens);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

describe('parseRequest', () => {
  it('reads method, URL, query and headers', () => {
    const r = req('POST', 'http://Reviews:9080/x/y?a=1&b=%20two', '-H', 'End-User: jason', '-H', 'x:1', '-H', 'x:2');
    assert.deepEqual({ ...r }, { method: 'POST', scheme: 'http', authority: 'reviews:9080', hostname: 'reviews', port: 9080, path: '/x/y', query: [['a', '1'], ['b', ' two']], headers: { 'end-user': 'jason', x: '1,2' } });
  });
  it('defaults: GET, scheme http, port 80/443; Host header overrides the authority', () => {
    assert.equal(req('reviews/x').port, 80);
    assert.equal(req('https://a.example.com/').port, 443);
    assert.equal(req('http://a:8080/', '-H', 'host: b.example.com').authority, 'b.example.com');
    assert.equal(req('http://a/').method, 'GET');
  });
  it('rejects what it cannot read, saying what', () => {
    assert.match((parseRequest([]) as { error: string }).error, /expected \[METHOD\] URL/);
    assert.match((parseRequest(['ftp://x/']) as { error: string }).error, /scheme must be http or https/);
    assert.match((parseRequest(['http://x/', '-H', 'novalue']) as { error: string }).error, /expected name:value/);
    assert.match((parseRequest(['http://x/', '--bogus']) as { error: string }).error, /unexpected "--bogus" after the URL/);
    assert.match((parseRequest(['http://x/', '-H']) as { error: string }).error, /-H needs name:value/);
  });
  it('headers may come before the URL', () => {
    const r = req('-H', 'a: 1', 'DELETE', 'http://x/p');
    assert.equal(r.method, 'DELETE');
    assert.deepEqual(r.headers, { a: '1' });
  });
});

describe('selectVirtualHost (Envoy order: exact, longest suffix wildcard, longest prefix wildcard, *)', () => {
  const vhosts = [
    { name: 'star', domains: ['*'] },
    { name: 'prefix', domains: ['api.*'] },
    { name: 'suffix-short', domains: ['*.com'] },
    { name: 'suffix-long', domains: ['*.example.com'] },
    { name: 'exact', domains: ['a.example.com', 'A.Example.com:8080'] },
  ];
  const cases: Array<[string, string, string]> = [
    ['a.example.com', 'exact', 'exact domain'],
    ['a.example.com:8080', 'exact', 'exact domain'],
    ['b.example.com', 'suffix-long', 'suffix wildcard'],
    ['x.com', 'suffix-short', 'suffix wildcard'],
    ['api.example.com', 'suffix-long', 'suffix wildcard'],
    ['api.internal', 'prefix', 'prefix wildcard'],
    ['example.com', 'suffix-short', 'suffix wildcard'],
    ['other', 'star', 'catch-all "*"'],
  ];
  for (const [host, name, kind] of cases) {
    it(`${host} → ${name}`, () => {
      const s = selectVirtualHost(vhosts, host);
      assert.equal(s?.vhost.name, name);
      assert.equal(s?.kind, kind);
    });
  }
  it('a wildcard matches at least one character; nothing matches → undefined', () => {
    assert.equal(selectVirtualHost([{ domains: ['*.example.com'] }], '.example.com'), undefined);
    assert.equal(selectVirtualHost([{ domains: ['a'] }], 'b'), undefined);
  });
});

describe('route matches', () => {
  it('paths: prefix, exact, regex (whole path, RE2), case sensitivity', () => {
    assert.equal(pathMatches({ prefix: '/api' }, '/api/x').ok, true);
    assert.equal(pathMatches({ prefix: '/api' }, '/API/x').ok, false);
    assert.equal(pathMatches({ prefix: '/api', caseSensitive: { value: false } }, '/API/x').ok, true);
    assert.equal(pathMatches({ path: '/exact' }, '/exact/').ok, false);
    assert.equal(pathMatches({ safeRegex: { regex: '/items/[0-9]+' } }, '/items/12').ok, true);
    assert.equal(pathMatches({ safeRegex: { regex: '/items/[0-9]+' } }, '/items/12/x').ok, false);
    assert.equal(pathMatches({ safeRegex: { regex: '(?i)/items/[0-9]+' } }, '/ITEMS/12').ok, true);
    assert.equal(pathMatches({ pathSeparatedPrefix: '/api' }, '/apix').ok, false);
    assert.equal(pathMatches({ pathSeparatedPrefix: '/api' }, '/api/x').ok, true);
  });
  it('headers: string matchers, presence, inversion and Envoy’s missing-header rules', () => {
    const r = req('GET', 'http://h/', '-H', 'end-user: jason', '-H', 'x-tenant: acme-1');
    assert.equal(headerMatches({ name: 'end-user', stringMatch: { exact: 'jason' } }, r).ok, true);
    assert.equal(headerMatches({ name: 'end-user', stringMatch: { exact: 'JASON', ignoreCase: true } }, r).ok, true);
    assert.equal(headerMatches({ name: 'x-tenant', stringMatch: { prefix: 'acme-' } }, r).ok, true);
    assert.equal(headerMatches({ name: 'x-tenant', stringMatch: { safeRegex: { regex: 'acme-\\d' } } }, r).ok, true);
    assert.equal(headerMatches({ name: 'x-tenant', stringMatch: { suffix: '-2' } }, r).ok, false);
    assert.equal(headerMatches({ name: 'end-user', presentMatch: true }, r).ok, true);
    assert.equal(headerMatches({ name: 'absent', presentMatch: true }, r).ok, false);
    assert.equal(headerMatches({ name: 'absent', presentMatch: true, invertMatch: true }, r).ok, true);
    // Missing header with an inverted string match: false unless treated as empty (Istio's withoutHeaders).
    assert.equal(headerMatches({ name: 'absent', stringMatch: { exact: 'v' }, invertMatch: true }, r).ok, false);
    assert.equal(headerMatches({ name: 'absent', stringMatch: { exact: 'v' }, invertMatch: true, treatMissingHeaderAsEmpty: true }, r).ok, true);
    assert.equal(headerMatches({ name: ':method', stringMatch: { exact: 'GET' } }, r).ok, true);
    assert.equal(headerMatches({ name: ':authority', stringMatch: { exact: 'h' } }, r).ok, true);
    assert.match(headerMatches({ name: 'end-user', stringMatch: { exact: 'bob' } }, r).reason, /header end-user exact "bob": got "jason"/);
  });
  it('query parameters: decoded value, presence; missing never matches', () => {
    const r = req('http://h/p?v=2&name=a%20b');
    assert.equal(queryMatches({ name: 'v', stringMatch: { exact: '2' } }, r).ok, true);
    assert.equal(queryMatches({ name: 'name', stringMatch: { exact: 'a b' } }, r).ok, true);
    assert.equal(queryMatches({ name: 'v', presentMatch: true }, r).ok, true);
    assert.equal(queryMatches({ name: 'w', presentMatch: true }, r).ok, false);
  });
  it('a RouteMatch needs every condition; each is reported', () => {
    const r = req('http://h/api/x?v=1', '-H', 'a:1');
    const m = routeMatches({ prefix: '/api', headers: [{ name: 'a', stringMatch: { exact: '1' } }], queryParameters: [{ name: 'v', stringMatch: { exact: '2' } }] }, r);
    assert.equal(m.ok, false);
    assert.deepEqual(m.checks.map((c) => c.ok), [true, true, false]);
  });
});
