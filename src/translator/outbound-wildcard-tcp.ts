/**
 * Outbound TCP traffic that no VIP listener catches: ServiceEntry ports whose `addresses` are CIDR
 * ranges, and ServiceEntry TCP ports without any address. Both live on the port's wildcard
 * listener 0.0.0.0_PORT, reached through virtualOutbound's original-destination hand-off:
 * - a CIDR becomes a filter chain matching the destination prefix (`prefixRanges`);
 * - a ServiceEntry without addresses takes the port's default chain (all other destinations on
 *   that port go to it, as in Istio); without one the default chain is the sidecar's catch-all
 *   (PassthroughCluster, BlackHoleCluster or the egress proxy).
 * When the port already has an HTTP wildcard listener, CIDR chains are added in front of it and an
 * address-less TCP service is left out (HTTP owns the port), as Istio resolves that conflict.
 */
import type { MeshService } from '../registry/model.js';
import type { NamedResource } from './types.js';

type Obj = Record<string, unknown>;

interface PortChains {
  /** CIDR → network filter, first service wins a CIDR. */
  cidrs: Map<string, Obj>;
  /** Filter of the first address-less service on this port. */
  fallback?: Obj;
}

function cidrRange(cidr: string): Obj {
  const [address, len] = cidr.split('/');
  return { addressPrefix: address, prefixLen: { value: Number(len) } };
}

export class WildcardTcpChains {
  private readonly ports = new Map<number, PortChains>();

  /** Records a TCP service port (call for every TCP port; only CIDR / address-less ServiceEntries are kept). */
  add(svc: MeshService, port: number, filter: Obj): void {
    const cidrs = svc.addresses.filter((a) => a.includes('/'));
    const addressLess = svc.source === 'serviceentry' && svc.addresses.length === 0;
    if (cidrs.length === 0 && !addressLess) return;
    const entry = this.ports.get(port) ?? { cidrs: new Map<string, Obj>() };
    for (const c of cidrs) if (!entry.cidrs.has(c)) entry.cidrs.set(c, filter);
    if (addressLess && !entry.fallback) entry.fallback = filter;
    this.ports.set(port, entry);
  }

  /**
   * Adds the chains to `listeners`: into an existing 0.0.0.0_PORT (HTTP) listener, or as a new
   * 0.0.0.0_PORT listener whose default chain is the service without addresses or `catchAll`.
   */
  addTo(listeners: NamedResource[], catchAll: () => Obj): void {
    for (const [port, entry] of [...this.ports.entries()].sort(([a], [b]) => a - b)) {
      const cidrChains: Obj[] = [...entry.cidrs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([cidr, filter]) => ({ name: `${cidr}_${port}`, filterChainMatch: { prefixRanges: [cidrRange(cidr)] }, filters: [filter] }));
      const name = `0.0.0.0_${port}`;
      const existing = listeners.find((l) => l.name === name);
      if (existing) {
        existing.value.filterChains = [...cidrChains, ...(existing.value.filterChains as Obj[])];
        continue;
      }
      listeners.push({ name, value: {
        name, address: { socketAddress: { address: '0.0.0.0', portValue: port } }, bindToPort: { value: false }, trafficDirection: 'OUTBOUND',
        filterChains: cidrChains,
        defaultFilterChain: { name: `${name}-default`, filters: [entry.fallback ?? catchAll()] },
      } });
    }
  }
}
