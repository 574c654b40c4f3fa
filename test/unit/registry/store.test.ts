/** The versioned Registry: effective changes only, one version per batch, frozen objects and snapshots, notifications. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Resource } from '../../../src/api/index.js';
import { Registry, type RegistryChange, objectKey } from '../../../src/registry/store.js';
import { gatewayVs, objs, service } from './fixtures.js';

const svcA = () => objs(service('a', 'default', [{ name: 'http', port: 80 }]))[0];
const svcB = () => objs(service('b', 'default', [{ name: 'http', port: 80 }]))[0];

describe('Registry', () => {
  it('bumps the version once per effective change and reports kinds and keys', () => {
    const reg = new Registry();
    const changes: RegistryChange[] = [];
    reg.onChange((c) => changes.push(c));
    const a = svcA();
    const steps: Array<[string, () => boolean, boolean, number]> = [
      ['add', () => reg.apply({ type: 'add', object: a }), true, 1],
      ['same content again', () => reg.apply({ type: 'update', object: structuredClone(a) }), false, 1],
      ['same content, keys in another order', () => reg.apply({ type: 'update', object: { spec: a.spec, metadata: a.metadata, kind: a.kind, apiVersion: a.apiVersion } as Resource }), false, 1],
      ['changed content', () => reg.apply({ type: 'update', object: objs(service('a', 'default', [{ name: 'http', port: 81 }]))[0] }), true, 2],
      ['delete of an absent object', () => reg.apply({ type: 'delete', object: svcB() }), false, 2],
      ['batch of two', () => reg.applyAll([{ type: 'add', object: svcB() }, { type: 'add', object: objs(gatewayVs('v', 'default', ['gw']))[0] }]), true, 3],
      ['delete', () => reg.apply({ type: 'delete', object: { kind: 'Service', metadata: { name: 'a', namespace: 'default' } } }), true, 4],
    ];
    for (const [what, step, changed, version] of steps) {
      assert.equal(step(), changed, what);
      assert.equal(reg.version, version, what);
    }
    assert.deepEqual(changes.map((c) => [c.version, c.kinds, c.keys]), [
      [1, ['Service'], ['Service/default/a']],
      [2, ['Service'], ['Service/default/a']],
      [3, ['Service', 'VirtualService'], ['Service/default/b', 'VirtualService/default/v']],
      [4, ['Service'], ['Service/default/a']],
    ]);
    assert.deepEqual(reg.objects().map(objectKey), ['Service/default/b', 'VirtualService/default/v']);
    assert.equal(reg.size, 2);
  });

  it('stores private deep-frozen copies', () => {
    const reg = new Registry();
    const a = svcA();
    reg.apply({ type: 'add', object: a });
    (a.metadata as { name: string }).name = 'mutated-by-caller';
    const stored = reg.get('Service', 'default', 'a')!;
    assert.equal(stored.metadata.name, 'a');
    assert.ok(Object.isFrozen(stored) && Object.isFrozen(stored.metadata));
    assert.throws(() => { (stored.metadata as { name: string }).name = 'x'; }, TypeError);
    assert.throws(() => { ((stored as { spec: { ports: unknown[] } }).spec.ports).push({}); }, TypeError);
  });

  it('caches a frozen snapshot until the next change', () => {
    const reg = new Registry({ rootNamespace: 'root', domainSuffix: 'example' });
    reg.apply({ type: 'add', object: svcA() });
    const s1 = reg.snapshot();
    assert.equal(reg.snapshot(), s1);
    assert.equal(s1.version, 1);
    assert.deepEqual(s1.mesh, { rootNamespace: 'root', domainSuffix: 'example' });
    assert.equal(s1.services[0].hostname, 'a.default.svc.example');
    assert.ok(Object.isFrozen(s1) && Object.isFrozen(s1.services) && Object.isFrozen(s1.services[0].ports));
    assert.throws(() => { (s1.services as unknown[]).push({}); }, TypeError);
    reg.apply({ type: 'update', object: structuredClone(svcA()) });
    assert.equal(reg.snapshot(), s1, 'a no-op keeps the snapshot');
    reg.apply({ type: 'add', object: svcB() });
    const s2 = reg.snapshot();
    assert.notEqual(s2, s1);
    assert.equal(s2.version, 2);
    assert.equal(s1.services.length, 1, 'an old snapshot does not change');
    assert.equal(s2.services.length, 2);
  });

  it('every listener runs even when one throws; the error reaches the caller; unsubscribe works', () => {
    const reg = new Registry();
    const seen: string[] = [];
    const off = reg.onChange(() => { seen.push('first'); throw new Error('boom'); });
    reg.onChange(() => seen.push('second'));
    assert.throws(() => reg.apply({ type: 'add', object: svcA() }), /boom/);
    assert.deepEqual(seen, ['first', 'second']);
    assert.equal(reg.version, 1, 'the change is applied');
    off();
    reg.apply({ type: 'add', object: svcB() });
    assert.deepEqual(seen, ['first', 'second', 'second']);
  });

  it('nextChange and whenVersion resolve on changes and time out otherwise', async () => {
    const reg = new Registry();
    const next = reg.nextChange(1000);
    const v2 = reg.whenVersion(2, 1000);
    reg.apply({ type: 'add', object: svcA() });
    assert.equal((await next).version, 1);
    reg.apply({ type: 'add', object: svcB() });
    assert.equal(await v2, 2);
    assert.equal(await reg.whenVersion(1), 2, 'already reached');
    await assert.rejects(reg.nextChange(20), /no registry change within 20 ms/);
  });
});
