/** Regex size limits: Istio's 1024-character cap, and a warning when Envoy's RE2 program size limit is certainly exceeded. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateResource } from '../../../src/api/index.js';
import { buildBootstrap } from '../../../src/proxy/bootstrap.js';
import { http0, virtualService } from './fixtures.js';

const withRegex = (regex: string) => validateResource(virtualService((s) => { http0(s).match = [{ uri: { regex } }]; }));

describe('regex size limits', () => {
  it('accepts an ordinary regex without warnings', () => {
    const r = withRegex('/v[0-9]+/items/[a-z]+');
    assert.ok(r.ok);
    assert.deepEqual(r.warnings, []);
  });

  it('refuses a regex longer than 1024 characters, as Istio does', () => {
    const r = withRegex(`/${'a'.repeat(1024)}`);
    assert.ok(!r.ok);
    assert.deepEqual(r.errors.map((e) => [e.path, e.message]), [['spec.http[0].match[0].uri.regex', 'regex is too large: 1025 characters, at most 1024 allowed']]);
  });

  it('warns when the RE2 program is certainly over the limit the bootstrap gives Envoy', () => {
    const r = withRegex('[a-z]{1000}'.repeat(40));
    assert.ok(r.ok);
    assert.equal(r.warnings.length, 1);
    assert.equal(r.warnings[0].path, 'spec.http[0].match[0].uri.regex');
    assert.match(r.warnings[0].message, /RE2 program of at least \d+ instructions; Envoy rejects programs over 32768/);
  });

  it('the bootstrap raises Envoy\'s RE2 program size limit to Istio\'s 32768', () => {
    const b = buildBootstrap({ nodeId: 'router~1.2.3.4~gw.ns~ns.svc.cluster.local', xdsAddress: '127.0.0.1:15010' }) as { layered_runtime: { layers: Array<{ static_layer?: Record<string, unknown> }> } };
    assert.equal(b.layered_runtime.layers[0].static_layer?.['re2.max_program_size.error_level'], 32768);
  });
});
