/** DestinationRule (networking.istio.io): every field of Istio's current API. */
import { z } from 'zod';
import { Duration, Int32, Labels, PortSelector, UInt32, istioObject } from './common.js';

const HTTPCookie = z.strictObject({
  name: z.string(),
  path: z.string().optional(),
  ttl: Duration.optional(),
  attributes: z.array(z.strictObject({ name: z.string(), value: z.string().optional() })).optional(),
});

export const ConsistentHashLB = z.strictObject({
  httpHeaderName: z.string().optional(),
  httpCookie: HTTPCookie.optional(),
  useSourceIp: z.boolean().optional(),
  httpQueryParameterName: z.string().optional(),
  ringHash: z.strictObject({ minimumRingSize: z.int().min(0).optional() }).optional(),
  maglev: z.strictObject({ tableSize: z.int().min(0).optional() }).optional(),
  minimumRingSize: z.int().min(0).optional(),
});
export type ConsistentHashLB = z.infer<typeof ConsistentHashLB>;

export const LocalityLoadBalancerSetting = z.strictObject({
  distribute: z.array(z.strictObject({ from: z.string().optional(), to: z.record(z.string(), UInt32).optional() })).optional(),
  failover: z.array(z.strictObject({ from: z.string().optional(), to: z.string().optional() })).optional(),
  failoverPriority: z.array(z.string()).optional(),
  enabled: z.boolean().optional(),
});
export type LocalityLoadBalancerSetting = z.infer<typeof LocalityLoadBalancerSetting>;

export const WarmupConfiguration = z.strictObject({
  duration: Duration,
  minimumPercent: z.number().min(0).max(100).optional(),
  aggression: z.number().min(1).optional(),
});

export const LoadBalancerSettings = z.strictObject({
  simple: z.enum(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']).optional(),
  consistentHash: ConsistentHashLB.optional(),
  localityLbSetting: LocalityLoadBalancerSetting.optional(),
  warmupDurationSecs: Duration.optional(),
  warmup: WarmupConfiguration.optional(),
});
export type LoadBalancerSettings = z.infer<typeof LoadBalancerSettings>;

export const ConnectionPoolSettings = z.strictObject({
  tcp: z.strictObject({
    maxConnections: Int32.optional(),
    connectTimeout: Duration.optional(),
    tcpKeepalive: z.strictObject({ probes: UInt32.optional(), time: Duration.optional(), interval: Duration.optional() }).optional(),
    maxConnectionDuration: Duration.optional(),
    idleTimeout: Duration.optional(),
  }).optional(),
  http: z.strictObject({
    http1MaxPendingRequests: Int32.optional(),
    http2MaxRequests: Int32.optional(),
    maxRequestsPerConnection: Int32.optional(),
    maxRetries: Int32.optional(),
    idleTimeout: Duration.optional(),
    h2UpgradePolicy: z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
    useClientProtocol: z.boolean().optional(),
    maxConcurrentStreams: Int32.optional(),
  }).optional(),
});
export type ConnectionPoolSettings = z.infer<typeof ConnectionPoolSettings>;

export const OutlierDetection = z.strictObject({
  splitExternalLocalOriginErrors: z.boolean().optional(),
  consecutiveLocalOriginFailures: UInt32.optional(),
  consecutiveGatewayErrors: UInt32.optional(),
  consecutive5xxErrors: UInt32.optional(),
  consecutiveErrors: Int32.optional(),
  interval: Duration.optional(),
  baseEjectionTime: Duration.optional(),
  maxEjectionPercent: Int32.optional(),
  minHealthPercent: Int32.optional(),
});
export type OutlierDetection = z.infer<typeof OutlierDetection>;

export const ClientTLSSettings = z.strictObject({
  mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).optional(),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: z.string().optional(),
  subjectAltNames: z.array(z.string()).optional(),
  sni: z.string().optional(),
  insecureSkipVerify: z.boolean().optional(),
  caCrl: z.string().optional(),
});
export type ClientTLSSettings = z.infer<typeof ClientTLSSettings>;

const ProxyProtocol = z.strictObject({ version: z.enum(['V1', 'V2']).optional() });
const TunnelSettings = z.strictObject({ protocol: z.enum(['CONNECT', 'POST']).optional(), targetHost: z.string(), targetPort: UInt32 });

const policyFields = {
  loadBalancer: LoadBalancerSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
  outlierDetection: OutlierDetection.optional(),
  tls: ClientTLSSettings.optional(),
};

export const PortTrafficPolicy = z.strictObject({ port: PortSelector.optional(), ...policyFields });
export type PortTrafficPolicy = z.infer<typeof PortTrafficPolicy>;

export const TrafficPolicy = z.strictObject({
  ...policyFields,
  portLevelSettings: z.array(PortTrafficPolicy).optional(),
  tunnel: TunnelSettings.optional(),
  proxyProtocol: ProxyProtocol.optional(),
  retryBudget: z.strictObject({ percent: z.strictObject({ value: z.number().min(0).max(100) }).optional(), minRetryConcurrency: UInt32.optional() }).optional(),
});
export type TrafficPolicy = z.infer<typeof TrafficPolicy>;

export const Subset = z.strictObject({
  name: z.string(),
  labels: Labels.optional(),
  trafficPolicy: TrafficPolicy.optional(),
});
export type Subset = z.infer<typeof Subset>;

/**
 * Istio's DestinationRule selector (istio.type.v1beta1.WorkloadSelector) spells its labels
 * `matchLabels`; `labels` (the Sidecar/ServiceEntry spelling) is still read, with a warning.
 */
export const DestinationRuleWorkloadSelector = z.strictObject({ matchLabels: Labels.optional(), labels: Labels.optional() });
export type DestinationRuleWorkloadSelector = z.infer<typeof DestinationRuleWorkloadSelector>;

export const DestinationRuleSpec = z.strictObject({
  host: z.string(),
  trafficPolicy: TrafficPolicy.optional(),
  subsets: z.array(Subset).optional(),
  exportTo: z.array(z.string()).optional(),
  workloadSelector: DestinationRuleWorkloadSelector.optional(),
});
export type DestinationRuleSpec = z.infer<typeof DestinationRuleSpec>;

export const DestinationRuleSchema = istioObject('DestinationRule', DestinationRuleSpec);
