/**
 * The few Kubernetes core shapes meshpilot reads. Typed for the fields used; other fields are
 * allowed (Kubernetes objects carry many) and passed through untouched.
 */
import { z } from 'zod';
import { Labels, ObjectMeta } from './common.js';

const ServicePortSpec = z.looseObject({
  name: z.string().optional(),
  port: z.int().min(1).max(65535),
  targetPort: z.union([z.int(), z.string()]).optional(),
  protocol: z.string().optional(),
  appProtocol: z.string().optional(),
  nodePort: z.int().optional(),
});

export const K8sServiceSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  metadata: ObjectMeta,
  spec: z.looseObject({
    type: z.string().optional(),
    clusterIP: z.string().optional(),
    clusterIPs: z.array(z.string()).optional(),
    externalName: z.string().optional(),
    selector: Labels.optional(),
    ports: z.array(ServicePortSpec).optional(),
  }).optional(),
});

export const K8sEndpointSliceSchema = z.looseObject({
  apiVersion: z.literal('discovery.k8s.io/v1'),
  kind: z.literal('EndpointSlice'),
  metadata: ObjectMeta,
  addressType: z.string(),
  endpoints: z.array(z.looseObject({
    addresses: z.array(z.string()),
    conditions: z.looseObject({ ready: z.boolean().nullish(), serving: z.boolean().nullish(), terminating: z.boolean().nullish() }).optional(),
    hostname: z.string().optional(),
    nodeName: z.string().optional(),
    zone: z.string().optional(),
    targetRef: z.looseObject({ kind: z.string().optional(), name: z.string().optional(), namespace: z.string().optional() }).optional(),
  })).nullish(),
  ports: z.array(z.looseObject({
    name: z.string().nullish(),
    port: z.int().nullish(),
    protocol: z.string().nullish(),
    appProtocol: z.string().nullish(),
  })).nullish(),
});

const EndpointAddress = z.looseObject({
  ip: z.string(),
  hostname: z.string().optional(),
  nodeName: z.string().optional(),
  targetRef: z.looseObject({ kind: z.string().optional(), name: z.string().optional(), namespace: z.string().optional() }).optional(),
});

export const K8sEndpointsSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Endpoints'),
  metadata: ObjectMeta,
  subsets: z.array(z.looseObject({
    addresses: z.array(EndpointAddress).optional(),
    notReadyAddresses: z.array(EndpointAddress).optional(),
    ports: z.array(z.looseObject({ name: z.string().optional(), port: z.int(), protocol: z.string().optional(), appProtocol: z.string().optional() })).optional(),
  })).optional(),
});

export const K8sPodSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Pod'),
  metadata: ObjectMeta,
  spec: z.looseObject({ nodeName: z.string().optional(), serviceAccountName: z.string().optional() }).optional(),
  status: z.looseObject({
    podIP: z.string().optional(),
    podIPs: z.array(z.looseObject({ ip: z.string() })).optional(),
    phase: z.string().optional(),
  }).optional(),
});

export const K8sNamespaceSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Namespace'),
  metadata: ObjectMeta,
});

export const K8sSecretSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: ObjectMeta,
  type: z.string().optional(),
  data: z.record(z.string(), z.string()).optional(),
  stringData: z.record(z.string(), z.string()).optional(),
});

type WithNs<T extends { metadata: unknown }> = T & { metadata: ObjectMeta };
export type K8sService = WithNs<z.infer<typeof K8sServiceSchema>>;
export type K8sEndpointSlice = WithNs<z.infer<typeof K8sEndpointSliceSchema>>;
export type K8sEndpoints = WithNs<z.infer<typeof K8sEndpointsSchema>>;
export type K8sPod = WithNs<z.infer<typeof K8sPodSchema>>;
export type K8sNamespace = WithNs<z.infer<typeof K8sNamespaceSchema>>;
export type K8sSecret = WithNs<z.infer<typeof K8sSecretSchema>>;
export type KubeResource = K8sService | K8sEndpointSlice | K8sEndpoints | K8sPod | K8sNamespace | K8sSecret;

export const KUBE_SCHEMAS = {
  Service: K8sServiceSchema,
  EndpointSlice: K8sEndpointSliceSchema,
  Endpoints: K8sEndpointsSchema,
  Pod: K8sPodSchema,
  Namespace: K8sNamespaceSchema,
  Secret: K8sSecretSchema,
} as const;
