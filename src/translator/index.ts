/**
 * The translator: pure (snapshot, proxy) → Envoy resources. No I/O, no clocks; output sorted by
 * name so that equal inputs give equal output.
 */
import { kindsChangedSince, type ConfigSnapshot, type MeshService } from '../registry/model.js';
import { isProxylessGrpc, type ProxyInfo } from '../proxy/node.js';
import { isVisibleTo } from '../registry/services.js';
import { blackHoleCluster, buildServiceClusters } from './clusters.js';
import { buildGatewayListeners } from './gateway-listeners.js';
import { buildGatewayRoutes } from './gateway-routes.js';
import { translateProxylessGrpc } from './grpc-proxyless.js';
import { mergeGatewayServers } from './gateway-servers.js';
import { computeScope, type SidecarScope } from './scope.js';
import { buildSidecarInbound, specialClusters } from './sidecar-inbound.js';
import { buildSidecarOutbound } from './sidecar-outbound.js';
import type { NamedResource, XdsResources } from './types.js';
import { byName, sortedEntries } from './ordering.js';
import { internResources, sameContent } from './interning.js';
import { translateEndpointsFor } from './endpoint-updates.js';

export interface TranslationResult extends XdsResources {
  /** Things the operator should know (skipped servers, merged hosts...). Not sent to Envoy. */
  notes?: string[];
}

/**
 * A gateway (router) proxy: listeners from the servers of the Gateways selecting it, route
 * configurations from the VirtualServices bound to them, and — as Istio does — clusters for every
 * service visible from the gateway's namespace (not only the referenced ones), plus BlackHoleCluster.
 */
export function translateGateway(snapshot: ConfigSnapshot, proxy: ProxyInfo): TranslationResult {
  const merged = mergeGatewayServers(snapshot, proxy);
  const visible = snapshot.services.filter((s) => isVisibleTo(s.exportTo, proxy.namespace) && snapshot.serviceByHost(s.hostname) === s);
  const c = buildServiceClusters(snapshot, proxy, visible);
  const l = buildGatewayListeners(snapshot, proxy, merged.groups, [...c.clusters].sort(byName).map((x) => x.name));
  const r = buildGatewayRoutes(snapshot, proxy, merged.groups, l.routeNames);
  return {
    listeners: l.listeners.sort(byName),
    routes: r.routes.sort(byName),
    clusters: [...c.clusters, blackHoleCluster()].sort(byName),
    endpoints: c.endpoints.sort(byName),
    // Listener certificates and DestinationRule credentials may name the same Secret: one copy each.
    secrets: [...new Map([...l.secrets, ...c.secrets].map((s) => [s.name, s])).values()].sort(byName),
    notes: [...merged.notes, ...l.notes, ...r.notes],
  };
}

/** What a sidecar's outbound side is built from and made of: the same for every sidecar of one {@link outboundKey}. */
interface SidecarOutbound {
  scope: SidecarScope;
  /** Listeners and route configurations, sorted by name. */
  out: ReturnType<typeof buildSidecarOutbound>;
  /** Clusters and ClusterLoadAssignments, sorted by name. */
  outbound: ReturnType<typeof buildServiceClusters>;
}

/** A sidecar's own (inbound) resources, special clusters included. */
interface SidecarInbound {
  listeners: NamedResource[];
  clusters: NamedResource[];
  secrets: NamedResource[];
}

/** What one sidecar was last given, from which parts, and from which snapshot version. */
interface SidecarTranslation {
  version: number;
  /** The proxy as translated (with its workload labels; the memo key is the proxy as connected). */
  proxy: ProxyInfo;
  outbound: SidecarOutbound;
  inbound: SidecarInbound;
  result: TranslationResult;
}

/**
 * What `meshpilot serve` keeps between translations so that a push costs what changed:
 * - sidecars with the same {@link outboundKey} share one outbound build per snapshot (shared
 *   resources are never mutated after they are made, so proxies may hold the same objects and the
 *   server hashes and encodes them once);
 * - a part is not built again when only kinds it never reads changed since it was built (the
 *   snapshot's per-kind versions): a VirtualService change rebuilds a sidecar group's listeners and
 *   route configurations, not its clusters, assignments or any sidecar's inbound side;
 * - a resource whose content is what it was in the previous build of the same part keeps its
 *   previous object, and a proxy whose parts are all unchanged gets its previous lists back, so
 *   downstream (versions, encoding, what is sent) a VirtualService change costs the route
 *   configurations whose content it changed and nothing else.
 * A translation with the memo is always equal to one without (test/unit/translator/memo-equivalence.test.ts).
 */
export class TranslationMemo {
  private version = -1;
  /** Outbound builds from the snapshot of `version`, by outbound key. */
  private byKey = new Map<string, SidecarOutbound>();
  /** The latest outbound build per key, of any snapshot (and its version): what a new build starts from. */
  private readonly latest = new Map<string, { version: number; built: SidecarOutbound }>();
  /** Per proxy (the object the server holds for its connection), what it was last given. */
  private readonly sidecars = new WeakMap<ProxyInfo, SidecarTranslation>();

  /** Outbound keys built from the current snapshot (tests). */
  get outboundBuilds(): number {
    return this.byKey.size;
  }

  /** The shared outbound side for `proxy` in `snapshot` (built once per key and snapshot). */
  outboundFor(snapshot: ConfigSnapshot, proxy: ProxyInfo): SidecarOutbound {
    if (snapshot.version < this.version) return buildOutbound(snapshot, proxy);
    if (snapshot.version !== this.version) {
      this.version = snapshot.version;
      this.byKey = new Map();
    }
    const key = outboundKey(snapshot, proxy);
    const known = this.byKey.get(key);
    if (known) return known;
    const prev = this.latest.get(key);
    const built = buildOutbound(snapshot, proxy, prev && kindsChangedSince(snapshot, prev.version), prev?.built);
    const interned = internOutbound(built, prev?.built);
    this.byKey.set(key, interned);
    // Bounded: keys of workloads long gone are dropped all at once (interning just starts over).
    if (this.latest.size >= 10_000 && !prev) this.latest.clear();
    this.latest.set(key, { version: snapshot.version, built: interned });
    return interned;
  }

  lastOf(proxy: ProxyInfo): SidecarTranslation | undefined {
    return this.sidecars.get(proxy);
  }

  remember(proxy: ProxyInfo, t: SidecarTranslation): void {
    this.sidecars.set(proxy, t);
  }
}

/**
 * Everything of a sidecar the outbound side depends on: its namespace (visibility, DestinationRule
 * lookup, sourceNamespace), its DNS domain and those of its workload labels that something in the
 * snapshot looks at (see {@link labelKeysRead}). Not its addresses or name: those only shape its
 * inbound side. Sidecars of one Deployment, or of a namespace where no selector tells them apart,
 * share one key.
 */
export function outboundKey(snapshot: ConfigSnapshot, proxy: ProxyInfo): string {
  const read = labelKeysRead(snapshot);
  const labels = sortedEntries(proxy.labels).filter(([k]) => read.has(k));
  return JSON.stringify([proxy.type, proxy.namespace, proxy.dnsDomain, labels]);
}

/** Workload labels that give a sidecar its locality (registry/services.ts localityOf). */
const LOCALITY_LABELS = ['istio-locality', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone'];

const labelKeysBySnapshot = new WeakMap<ConfigSnapshot, ReadonlySet<string>>();

/**
 * The workload label keys a sidecar's outbound configuration can depend on in this snapshot:
 * locality labels, and every key named by a Sidecar or DestinationRule workloadSelector, a
 * VirtualService match's sourceLabels or a DestinationRule's failoverPriority. Two sidecars whose
 * labels agree on these get the same outbound configuration (what the selectors and matches see
 * of them is the same).
 */
export function labelKeysRead(snapshot: ConfigSnapshot): ReadonlySet<string> {
  let keys = labelKeysBySnapshot.get(snapshot);
  if (keys) return keys;
  const found = new Set<string>(LOCALITY_LABELS);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'sourceLabels' || k === 'labels' || k === 'matchLabels') && x && typeof x === 'object' && !Array.isArray(x)) {
        for (const key of Object.keys(x)) found.add(key);
      } else if (k === 'failoverPriority' && Array.isArray(x)) {
        for (const p of x) if (typeof p === 'string') found.add(p.includes('=') ? p.slice(0, p.indexOf('=')) : p);
      }
      walk(x);
    }
  };
  for (const list of [snapshot.virtualServices, snapshot.destinationRules, snapshot.sidecars]) for (const o of list) walk(o.spec);
  labelKeysBySnapshot.set(snapshot, (keys = found));
  return keys;
}

/** Kinds a sidecar's clusters and ClusterLoadAssignments never read (its Sidecar scope's services do not depend on them either). */
const NOT_READ_BY_CLUSTERS: ReadonlySet<string> = new Set(['VirtualService', 'Gateway']);
/**
 * Kinds whose changes leave an outbound build's virtual hosts as they were but those whose owning
 * VirtualService changed (buildSidecarOutbound compares it: a virtual host reads its service's
 * name, addresses and port and, for its routes' destinations, other services' hosts and ports and
 * DestinationRules — none of which an endpoint change touches, registry/derived-snapshot.ts), and
 * its clusters as they were and its assignments but those of services whose endpoints changed
 * (withNewAssignments).
 */
const NOT_READ_BY_VIRTUAL_HOSTS: ReadonlySet<string> = new Set(['VirtualService', 'Gateway', 'EndpointSlice', 'Endpoints']);
/** Kinds a sidecar's inbound side never reads (it reads services, its Sidecar, Secrets and its pod). */
const NOT_READ_BY_INBOUND: ReadonlySet<string> = new Set(['VirtualService', 'Gateway', 'DestinationRule']);

/**
 * Whether a sidecar's inbound side built at `version` is still right: only kinds it never reads
 * changed since, or endpoint objects that list none of its addresses (it reads only the endpoints
 * at its own addresses, for the ports of the services it serves).
 */
function inboundStillRight(snapshot: ConfigSnapshot, version: number, proxy: ProxyInfo): boolean {
  const changed = kindsChangedSince(snapshot, version);
  if (!changed) return false;
  const endpointsChanged = snapshot.endpointsChangedSince;
  return changed.every((k) => NOT_READ_BY_INBOUND.has(k)
    || ((k === 'EndpointSlice' || k === 'Endpoints') && endpointsChanged !== undefined && !proxy.ips.some((ip) => endpointsChanged(ip, version))));
}

/**
 * The outbound side. With an earlier build for the same outbound key and the kinds changed since
 * (`changed`): its clusters and assignments are kept when only kinds they never read changed, and
 * only the assignments of services whose endpoints changed are built again when endpoints changed
 * too; its virtual hosts whose VirtualService did not change are reused.
 */
function buildOutbound(snapshot: ConfigSnapshot, proxy: ProxyInfo, changed?: readonly string[], earlier?: SidecarOutbound): SidecarOutbound {
  const scope = computeScope(snapshot, proxy);
  const only = (kinds: ReadonlySet<string>) => earlier !== undefined && changed !== undefined && changed.every((k) => kinds.has(k));
  const out = buildSidecarOutbound(snapshot, proxy, scope, only(NOT_READ_BY_VIRTUAL_HOSTS) ? earlier!.out.virtualHosts : undefined);
  const clusters = only(NOT_READ_BY_CLUSTERS) ? earlier!.outbound
    : only(NOT_READ_BY_VIRTUAL_HOSTS) ? withNewAssignments(snapshot, proxy, scope, earlier!) : undefined;
  const built = clusters ? undefined : buildServiceClusters(snapshot, proxy, scope.services);
  return {
    scope,
    out: { listeners: out.listeners.sort(byName), routes: out.routes.sort(byName), virtualHosts: out.virtualHosts },
    outbound: clusters ?? { ...built!, clusters: built!.clusters.sort(byName), endpoints: built!.endpoints.sort(byName) },
  };
}

/**
 * The earlier build's clusters with the ClusterLoadAssignments of the Kubernetes services whose
 * endpoints differ from that build's, built again (as the endpoint-only push path builds them);
 * for when only endpoints, VirtualServices and Gateways changed since (clusters do not read
 * endpoints). Undefined when the services in scope are not the same ones (build in full).
 */
function withNewAssignments(snapshot: ConfigSnapshot, proxy: ProxyInfo, scope: SidecarScope, earlier: SidecarOutbound): SidecarOutbound['outbound'] | undefined {
  const key = (s: MeshService) => `${s.source}|${s.hostname}|${s.namespace}/${s.name}`;
  const before = new Map(earlier.scope.services.map((s) => [key(s), s]));
  if (before.size !== scope.services.length) return undefined;
  const services: string[] = [];
  for (const s of scope.services) {
    const was = before.get(key(s));
    if (!was) return undefined;
    if (was !== s && !sameContent(was.endpoints, s.endpoints)) {
      if (s.source !== 'kubernetes') return undefined;
      services.push(`${s.namespace}/${s.name}`);
    }
  }
  const prev = earlier.outbound;
  if (services.length === 0) return prev;
  const updated = translateEndpointsFor(snapshot, proxy, prev.clusters, { services, addresses: [] });
  if (!updated) return undefined;
  const byName = new Map(updated.map((r) => [r.name, r]));
  const endpoints = prev.endpoints.map((r) => byName.get(r.name) ?? r);
  if (endpoints.filter((r, i) => r !== prev.endpoints[i]).length !== byName.size) return undefined;
  return { ...prev, endpoints };
}

function internOutbound(built: SidecarOutbound, prev: SidecarOutbound | undefined): SidecarOutbound {
  if (!prev) return built;
  return {
    scope: built.scope,
    out: { listeners: internResources(built.out.listeners, prev.out.listeners), routes: internResources(built.out.routes, prev.out.routes), virtualHosts: built.out.virtualHosts },
    outbound: {
      ...built.outbound,
      clusters: internResources(built.outbound.clusters, prev.outbound.clusters),
      endpoints: internResources(built.outbound.endpoints, prev.outbound.endpoints),
    },
  };
}

/** The sorted union of two lists (the first one when the second is empty). */
function union(a: NamedResource[], b: NamedResource[]): NamedResource[] {
  return b.length === 0 ? [...a] : [...a, ...b].sort(byName);
}

export function translateSidecar(snapshot: ConfigSnapshot, proxy: ProxyInfo, memo?: TranslationMemo, memoKey: ProxyInfo = proxy): TranslationResult {
  const shared = memo ? memo.outboundFor(snapshot, proxy) : buildOutbound(snapshot, proxy);
  const { scope, out, outbound } = shared;
  const last = memo?.lastOf(memoKey);
  // The inbound side of the last translation is still right when nothing it reads changed.
  const keep = last && sameContent(last.proxy.labels, proxy.labels) && inboundStillRight(snapshot, last.version, proxy) ? last : undefined;
  const built = keep ? undefined : buildSidecarInbound(snapshot, proxy, scope);
  const inbound: SidecarInbound = keep ? keep.inbound : {
    listeners: internResources(built!.listeners, last?.inbound.listeners),
    clusters: internResources([...specialClusters(), ...built!.clusters].sort(byName), last?.inbound.clusters),
    secrets: internResources(built!.secrets.sort(byName), last?.inbound.secrets),
  };
  const noteList = keep ? keep.result.notes ?? [] : built!.notes;
  const notes = noteList.length ? { notes: noteList } : {};
  // A list whose parts are those of the previous translation is the previous list.
  const was = last?.result;
  const unchanged = (a: unknown, b: unknown) => was !== undefined && a === b;
  const result: TranslationResult = {
    listeners: unchanged(out.listeners, last?.outbound.out.listeners) && unchanged(inbound.listeners, last?.inbound.listeners)
      ? was!.listeners : union(out.listeners, inbound.listeners),
    // Copies: the outbound lists are shared with other sidecars.
    routes: unchanged(out.routes, last?.outbound.out.routes) ? was!.routes : [...out.routes],
    clusters: unchanged(outbound.clusters, last?.outbound.outbound.clusters) && unchanged(inbound.clusters, last?.inbound.clusters)
      ? was!.clusters : union(inbound.clusters, outbound.clusters),
    endpoints: unchanged(outbound.endpoints, last?.outbound.outbound.endpoints) ? was!.endpoints : [...outbound.endpoints],
    secrets: unchanged(inbound.secrets, last?.inbound.secrets) ? was!.secrets : [...inbound.secrets],
    ...notes,
  };
  memo?.remember(memoKey, { version: snapshot.version, proxy, outbound: shared, inbound, result });
  return result;
}

/** A proxy that sent no labels gets those of its pod in the registry (found by name, else by IP). */
export function withWorkloadLabels(snapshot: ConfigSnapshot, proxy: ProxyInfo): ProxyInfo {
  if (Object.keys(proxy.labels).length > 0) return proxy;
  const labels = snapshot.workloadLabels(proxy.namespace, proxy.podName, proxy.ips[0]);
  return labels ? { ...proxy, labels } : proxy;
}

/**
 * A proxy's resources. With a memo (kept by the caller across snapshots), sidecars that need the
 * same outbound configuration share it, and unchanged resources keep their objects (see {@link TranslationMemo}).
 */
export function translate(snapshot: ConfigSnapshot, proxy: ProxyInfo, memo?: TranslationMemo): TranslationResult {
  const p = withWorkloadLabels(snapshot, proxy);
  if (p.type === 'router') return translateGateway(snapshot, p);
  if (isProxylessGrpc(p)) return translateProxylessGrpc(snapshot, p);
  return translateSidecar(snapshot, p, memo, proxy);
}

export { checkConsistency } from './consistency.js';
