/**
 * Outbound TCP traffic that no VIP listener catches: ServiceEntry ports whose `addresses` are CIDR
 * ranges, and ServiceEntry ports without any address. They live on the port's wildcard listener
 * 0.0.0.0_PORT, reached through virtualOutbound's original-destination hand-off:
 * - a CIDR becomes a filter chain matching the destination prefix (`prefixRanges`);
 * - a TLS / HTTPS port without addresses becomes a chain matching the SNI (`serverNames` = the
 *   ServiceEntry's hosts; the listener gets the TLS inspector), so several external HTTPS hosts
 *   share port 443 as in Istio;
 * - any other port without addresses takes the port's default chain (all other destinations on that
 *   port go to it, as in Istio); without one the default chain is the sidecar's catch-all
 *   (PassthroughCluster, BlackHoleCluster or the egress proxy).
 * When the port already has an HTTP wildcard listener, CIDR chains are added in front of it and the
 * rest is left out (HTTP owns the port), as Istio resolves that conflict.
 */
import type { MeshService, ServicePort } from '../registry/model.js';
import type { NamedResource } from './types.js';
import { compareStrings } from './ordering.js';

type Obj = Record<string, unknown>;

interface PortChains {
  /** CIDR → network filter, first service wins a CIDR. */
  cidrs: Map<string, Obj>;
  /** SNI host → network filter, first service wins a host. */
  sni: Map<string, Obj>;
  /** Filter of the first address-less (non-TLS) service on this port. */
  fallback?: Obj;
}

export const TLS_INSPECTOR = { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } };

/** A CIDR (or a bare address: a single host) → an Envoy CidrRange. */
export function cidrRange(cidr: string): Obj {
  const [address, len] = cidr.split('/');
  return { addressPrefix: address, prefixLen: { value: len === undefined ? (address.includes(':') ? 128 : 32) : Number(len) } };
}

export class WildcardTcpChains {
  private readonly ports = new Map<number, PortChains>();

  /** Records a TCP / TLS service port (call for every one; only CIDR / address-less ServiceEntries are kept). */
  add(svc: MeshService, port: ServicePort, filter: Obj): void {
    const cidrs = svc.addresses.filter((a) => a.includes('/'));
    const addressLess = svc.source === 'serviceentry' && svc.addresses.length === 0;
    if (cidrs.length === 0 && !addressLess) return;
    const entry = this.ports.get(port.port) ?? { cidrs: new Map<string, Obj>(), sni: new Map<string, Obj>() };
    for (const c of cidrs) if (!entry.cidrs.has(c)) entry.cidrs.set(c, filter);
    if (addressLess && (port.protocol === 'TLS' || port.protocol === 'HTTPS')) {
      if (!entry.sni.has(svc.hostname)) entry.sni.set(svc.hostname, filter);
    } else if (addressLess && !entry.fallback) {
      entry.fallback = filter;
    }
    this.ports.set(port.port, entry);
  }

  /**
   * Adds the chains to `listeners`: CIDR chains into an existing 0.0.0.0_PORT (HTTP) listener, or a
   * new 0.0.0.0_PORT listener with CIDR and SNI chains whose default chain is the address-less
   * service or `catchAll`.
   */
  addTo(listeners: NamedResource[], catchAll: () => Obj): void {
    for (const [port, entry] of [...this.ports.entries()].sort(([a], [b]) => a - b)) {
      const cidrChains: Obj[] = [...entry.cidrs.entries()].sort(([a], [b]) => compareStrings(a, b))
        .map(([cidr, filter]) => ({ name: `${cidr}_${port}`, filterChainMatch: { prefixRanges: [cidrRange(cidr)] }, filters: [filter] }));
      const name = `0.0.0.0_${port}`;
      const existing = listeners.find((l) => l.name === name);
      if (existing) {
        if (cidrChains.length) existing.value.filterChains = [...cidrChains, ...(existing.value.filterChains as Obj[])];
        continue;
      }
      const sniChains: Obj[] = [...entry.sni.entries()].sort(([a], [b]) => compareStrings(a, b))
        .map(([host, filter]) => ({ name: `${host}_${port}`, filterChainMatch: { serverNames: [host] }, filters: [filter] }));
      listeners.push({ name, value: {
        name, address: { socketAddress: { address: '0.0.0.0', portValue: port } }, bindToPort: { value: false }, trafficDirection: 'OUTBOUND',
        ...(sniChains.length ? { listenerFilters: [TLS_INSPECTOR] } : {}),
        filterChains: [...cidrChains, ...sniChains],
        defaultFilterChain: { name: `${name}-default`, filters: [entry.fallback ?? catchAll()] },
      } });
    }
  }
}
