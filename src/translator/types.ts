/**
 * The translator's output: plain objects shaped like Envoy v3 messages, in protobufjs
 * "fromObject" form (camelCase field names as protobufjs derives them from the .proto,
 * google.protobuf.Any as { '@type': 'type.googleapis.com/<full.Name>', ...fields },
 * google.protobuf.Duration as { seconds, nanos }, wrappers (UInt32Value...) as { value }).
 * Encoding to protobuf happens at the edge (src/xds/).
 */
export interface NamedResource {
  /** Resource name as xDS knows it (listener/route/cluster/secret name, or cluster_name of a ClusterLoadAssignment). */
  name: string;
  /** The message, e.g. an envoy.config.listener.v3.Listener. */
  value: Record<string, unknown>;
}

export interface XdsResources {
  listeners: NamedResource[];
  routes: NamedResource[];
  clusters: NamedResource[];
  endpoints: NamedResource[];
  secrets: NamedResource[];
}

export type ResourceKind = keyof XdsResources;

export const RESOURCE_KINDS: readonly ResourceKind[] = ['clusters', 'endpoints', 'listeners', 'routes', 'secrets'];

export const TYPE_URLS: Record<ResourceKind, string> = {
  listeners: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  routes: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  clusters: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoints: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secrets: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
};

export function emptyResources(): XdsResources {
  return { listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] };
}
