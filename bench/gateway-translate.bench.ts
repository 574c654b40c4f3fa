/**
 * Translation benchmark: a synthetic mesh (default 1,000 services, 100 VirtualServices with 5,000
 * HTTP routes in all, one gateway exposing every VirtualService) compiled for the gateway proxy.
 * Prints wall-clock figures; run with `npm run bench [-- --services N --vs N --routes N]`.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { validateResource, type Resource } from '../src/api/index.js';
import { parseNodeId } from '../src/proxy/node.js';
import { snapshotFromObjects } from '../src/registry/snapshot.js';
import { translate } from '../src/translator/index.js';
import { RESOURCE_KINDS, type XdsResources } from '../src/translator/types.js';
import { encodeResource } from '../src/xds/encode.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    vs: { type: 'string', default: '100' },
    routes: { type: 'string', default: '5000' },
    iterations: { type: 'string', default: '5' },
  },
});
const nServices = Number(values.services);
const nVs = Number(values.vs);
const nRoutes = Number(values.routes);
const iterations = Number(values.iterations);

function must(doc: unknown): Resource {
  const r = validateResource(doc);
  if (!r.ok) throw new Error(`bench fixture invalid: ${JSON.stringify(r.errors)}`);
  return r.value;
}

function ip(i: number, j: number): string {
  return `10.${(i >> 8) & 255}.${i & 255}.${j + 10}`;
}

const NAMESPACES = 10;
function nsOf(i: number): string {
  return `ns-${i % NAMESPACES}`;
}
function fqdn(i: number): string {
  return `svc-${i}.${nsOf(i)}.svc.cluster.local`;
}

function syntheticMesh(routesSalt = 0): Resource[] {
  const objs: unknown[] = [];
  for (let i = 0; i < nServices; i++) {
    const name = `svc-${i}`;
    const namespace = nsOf(i);
    objs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { clusterIP: `172.20.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] } });
    objs.push({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${name}-slice`, namespace, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [0, 1, 2].map((j) => ({ addresses: [ip(i, j)], conditions: { ready: true } })),
    });
  }
  objs.push({
    apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'public', namespace: 'default' },
    spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] },
  });
  const perVs = Math.max(1, Math.floor(nRoutes / nVs));
  for (let v = 0; v < nVs; v++) {
    const http = [];
    for (let r = 0; r < perVs; r++) {
      const a = (v * perVs + r) % nServices;
      const b = (a + 1) % nServices;
      http.push({
        name: `r${r}`,
        match: [{ uri: { prefix: `/api/${r}/` }, headers: { 'x-tenant': { exact: `t${(r + routesSalt) % 7}` } } }],
        route: [
          { destination: { host: fqdn(a), port: { number: 8080 } }, weight: 90 },
          { destination: { host: fqdn(b), port: { number: 8080 } }, weight: 10 },
        ],
      });
    }
    objs.push({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `vs-${v}`, namespace: 'default' }, spec: { hosts: [`app-${v}.example.com`], gateways: ['public'], http } });
  }
  return objs.map(must);
}

function bytesOf(res: XdsResources): { json: number; proto: number } {
  let json = 0;
  let proto = 0;
  for (const kind of RESOURCE_KINDS) for (const r of res[kind]) {
    json += Buffer.byteLength(JSON.stringify(r.value));
    proto += encodeResource(kind, r.value).value.length;
  }
  return { json, proto };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const proxy = parseNodeId('router~10.0.0.1~ingressgateway-0.istio-system~istio-system.svc.cluster.local', { LABELS: { istio: 'ingressgateway' } });
if (!proxy.ok) throw new Error(proxy.error);

let t0 = performance.now();
const objects = syntheticMesh();
const tValidate = performance.now() - t0;

const snapTimes: number[] = [];
const buildTimes: number[] = [];
let out: XdsResources | undefined;
for (let i = 0; i < iterations; i++) {
  t0 = performance.now();
  const snap = snapshotFromObjects(objects);
  snapTimes.push(performance.now() - t0);
  t0 = performance.now();
  out = translate(snap, proxy.value);
  buildTimes.push(performance.now() - t0);
}
if (!out) throw new Error('no iterations');
const size = bytesOf(out);

// One VirtualService changes: rebuild the snapshot and the gateway's config.
const changed = syntheticMesh(1);
const rebuildTimes: number[] = [];
for (let i = 0; i < iterations; i++) {
  const objs = i % 2 === 0 ? changed : objects;
  t0 = performance.now();
  translate(snapshotFromObjects(objs), proxy.value);
  rebuildTimes.push(performance.now() - t0);
}

// A sidecar in ns-0: its whole outbound config, without and with a namespace-scoped Sidecar.
const sidecarProxy = parseNodeId('sidecar~10.0.0.9~app-0.ns-0~ns-0.svc.cluster.local', { LABELS: { app: 'app' } });
if (!sidecarProxy.ok) throw new Error(sidecarProxy.error);
const scopedObjects = [...objects, must({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'ns-0' }, spec: { egress: [{ hosts: ['./*'] }] } })];
const sidecarFigures: Array<{ label: string; ms: number; clusters: number; json: number; proto: number }> = [];
for (const [label, objs] of [['no Sidecar', objects], ['Sidecar egress ./*', scopedObjects]] as const) {
  const snap = snapshotFromObjects(objs);
  const times: number[] = [];
  let res: XdsResources | undefined;
  for (let i = 0; i < iterations; i++) {
    t0 = performance.now();
    res = translate(snap, sidecarProxy.value);
    times.push(performance.now() - t0);
  }
  const b = bytesOf(res!);
  sidecarFigures.push({ label, ms: median(times), clusters: res!.clusters.length, json: b.json, proto: b.proto });
}

const routes = out.routes.reduce((n, rc) => n + ((rc.value.virtualHosts as { routes?: unknown[] }[] | undefined) ?? []).reduce((m, vh) => m + (vh.routes?.length ?? 0), 0), 0);
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`meshpilot translation benchmark (node ${process.version})`);
console.log(`  mesh: ${nServices} services, ${nVs} VirtualServices, ${nVs * Math.max(1, Math.floor(nRoutes / nVs))} HTTP routes, 1 gateway`);
console.log(`  validate ${objects.length} objects: ${fmt(tValidate)}`);
console.log(`  freeze snapshot (median of ${iterations}): ${fmt(median(snapTimes))}`);
console.log(`  build gateway config (median of ${iterations}): ${fmt(median(buildTimes))}`);
console.log(`  snapshot + rebuild after 1 VirtualService change (median): ${fmt(median(rebuildTimes))}`);
console.log(`  output: ${out.listeners.length} listeners, ${out.routes.length} route configs (${routes} routes), ${out.clusters.length} clusters, ${out.endpoints.length} CLAs`);
console.log(`  size: ${(size.json / 1024).toFixed(0)} KiB as JSON, ${(size.proto / 1024).toFixed(0)} KiB as protobuf`);
console.log(`sidecar config for one proxy (${NAMESPACES} namespaces, median of ${iterations}):`);
for (const f of sidecarFigures) console.log(`  ${f.label.padEnd(20)} build ${fmt(f.ms)}, ${f.clusters} clusters, ${(f.json / 1024).toFixed(0)} KiB JSON, ${(f.proto / 1024).toFixed(0)} KiB protobuf`);
