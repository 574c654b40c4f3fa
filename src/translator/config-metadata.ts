/**
 * Where an Envoy resource came from, written into its metadata as Istio does
 * (`filter_metadata.istio.config = /apis/networking.istio.io/v1/namespaces/NS/KIND-IN-KEBAB-CASE/NAME`):
 * routes name their VirtualService, clusters their DestinationRule. Gateway listeners, which Istio
 * leaves unmarked, list the Gateways whose servers made them under `istio.configs`. These paths are
 * what lets a rejected resource be traced back to the objects to blame (src/xds/provenance.ts).
 */
type Obj = Record<string, unknown>;

export interface ConfigRef {
  kind: string;
  namespace: string;
  name: string;
}

/** VirtualService → virtual-service (Istio's gvk.KebabKind). */
function kebab(kind: string): string {
  return kind.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

export function configPath(ref: ConfigRef): string {
  return `/apis/networking.istio.io/v1/namespaces/${ref.namespace}/${kebab(ref.kind)}/${ref.name}`;
}

/** The reference a config path names, or undefined for anything else. */
export function parseConfigPath(path: string): ConfigRef | undefined {
  const m = /^\/apis\/networking\.istio\.io\/[^/]+\/namespaces\/([^/]+)\/([a-z-]+)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  const kind = m[2].split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return { kind, namespace: m[1], name: m[3] };
}

export function refOf(kind: string, obj: { metadata: { name: string; namespace: string } }): ConfigRef {
  return { kind, namespace: obj.metadata.namespace, name: obj.metadata.name };
}

/** `metadata` for a resource made from one object (Istio's AddConfigInfoMetadata shape). */
export function configMetadata(ref: ConfigRef): Obj {
  return { filterMetadata: { istio: { config: configPath(ref) } } };
}
