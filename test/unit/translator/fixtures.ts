/** Fixture builders for translator tests: Istio/Kubernetes objects from YAML, a snapshot, a proxy. */
import { parseAllDocuments } from 'yaml';
import { validateResource, type Resource } from '../../../src/api/index.js';
import { parseNodeId, type ProxyInfo } from '../../../src/proxy/node.js';
import type { ConfigSnapshot } from '../../../src/registry/model.js';
import { snapshotFromObjects } from '../../../src/registry/snapshot.js';

/** Validated objects from a multi-document YAML string (throws on invalid input, naming the document). */
export function objects(yaml: string): Resource[] {
  return parseAllDocuments(yaml).map((d) => d.toJS()).filter((o) => o != null).map((o, i) => {
    const r = validateResource(o);
    if (!r.ok) throw new Error(`fixture document ${i}: ${JSON.stringify(r.errors)}`);
    return r.value;
  });
}

export function snapshot(yaml: string): ConfigSnapshot {
  return snapshotFromObjects(objects(yaml));
}

export function gatewayProxy(labels: Record<string, string> = { istio: 'ingressgateway' }, ip = '10.0.0.1', namespace = 'istio-system'): ProxyInfo {
  const r = parseNodeId(`router~${ip}~gw-0.${namespace}~${namespace}.svc.cluster.local`, { LABELS: labels });
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

export function sidecarProxy(labels: Record<string, string>, ip = '10.244.9.9', namespace = 'default'): ProxyInfo {
  const r = parseNodeId(`sidecar~${ip}~app-0.${namespace}~${namespace}.svc.cluster.local`, { LABELS: labels });
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** A Kubernetes Service with ready endpoints (EndpointSlice + Pods carrying the labels). */
export function service(name: string, namespace: string, ports: Array<{ name: string; port: number; targetPort?: number }>, pods: Array<{ ip: string; labels?: Record<string, string>; ready?: boolean }> = []): string {
  const docs = [
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n  clusterIP: 10.96.${pods.length}.${name.length}\n  ports: ${JSON.stringify(ports)}`,
  ];
  pods.forEach((p, i) => {
    docs.push(`apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}-${i}, namespace: ${namespace}, labels: ${JSON.stringify({ app: name, ...(p.labels ?? {}) })}}\nstatus: {podIP: ${p.ip}}`);
    docs.push(`apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: ${name}-${i}, namespace: ${namespace}, labels: {kubernetes.io/service-name: ${name}}}\naddressType: IPv4\nports: ${JSON.stringify(ports.map((pt) => ({ name: pt.name, port: pt.targetPort ?? pt.port })))}\nendpoints:\n- addresses: [${p.ip}]\n  conditions: {ready: ${p.ready ?? true}}\n  targetRef: {kind: Pod, name: ${name}-${i}, namespace: ${namespace}}`);
  });
  return docs.join('\n---\n');
}

type Obj = Record<string, unknown>;

/** A named resource's value, or a failure naming what is missing. */
export function byName(list: ReadonlyArray<{ name: string; value: Obj }>, name: string): Obj {
  const r = list.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name} (have: ${list.map((x) => x.name).join(', ')})`);
  return r.value;
}
