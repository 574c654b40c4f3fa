/** ServiceEntry (networking.istio.io): every field of Istio's current API. */
import { z } from 'zod';
import { Labels, PortNumber, UInt32, WorkloadSelector, istioObject } from './common.js';

export const ServiceEntryPort = z.strictObject({
  number: PortNumber,
  protocol: z.string().optional(),
  name: z.string(),
  targetPort: PortNumber.optional(),
});
export type ServiceEntryPort = z.infer<typeof ServiceEntryPort>;

export const WorkloadEntry = z.strictObject({
  address: z.string().optional(),
  ports: z.record(z.string(), PortNumber).optional(),
  labels: Labels.optional(),
  network: z.string().optional(),
  locality: z.string().optional(),
  weight: UInt32.optional(),
  serviceAccount: z.string().optional(),
});
export type WorkloadEntry = z.infer<typeof WorkloadEntry>;

export const ServiceEntrySpec = z.strictObject({
  hosts: z.array(z.string()),
  addresses: z.array(z.string()).optional(),
  ports: z.array(ServiceEntryPort).optional(),
  location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(),
  resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']).optional(),
  endpoints: z.array(WorkloadEntry).optional(),
  workloadSelector: WorkloadSelector.optional(),
  exportTo: z.array(z.string()).optional(),
  subjectAltNames: z.array(z.string()).optional(),
});
export type ServiceEntrySpec = z.infer<typeof ServiceEntrySpec>;

export const ServiceEntrySchema = istioObject('ServiceEntry', ServiceEntrySpec);
