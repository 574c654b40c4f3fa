/**
 * Which proxies a registry change can affect (Istio's ProxyNeedsPush, simplified): a pure
 * function of the changed object keys ("Kind/namespace/name") and the proxy.
 */
import type { ProxyInfo } from '../proxy/node.js';

export function proxyNeedsPush(changedKeys: readonly string[], proxy: ProxyInfo): boolean {
  for (const key of changedKeys) {
    const [kind, namespace] = key.split('/');
    // Gateways read TLS secrets only from their own namespace; sidecars do not read them yet.
    if (kind === 'Secret' && !(proxy.type === 'router' && namespace === proxy.namespace)) continue;
    // Sidecar resources scope sidecars, never gateways.
    if (kind === 'Sidecar' && proxy.type === 'router') continue;
    return true;
  }
  return false;
}
