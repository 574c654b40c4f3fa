/** Sidecar (networking.istio.io): every field of Istio's current API. */
import { z } from 'zod';
import { Port } from './gateway.js';
import { ConnectionPoolSettings, ClientTLSSettings } from './destination-rule.js';
import { ServerTLSSettings } from './gateway.js';
import { PortNumber, WorkloadSelector, istioObject } from './common.js';

const CaptureMode = z.enum(['DEFAULT', 'IPTABLES', 'NONE']);

const SidecarPort = z.strictObject({
  number: PortNumber,
  protocol: z.string().optional(),
  name: z.string().optional(),
  targetPort: PortNumber.optional(),
});

export const IstioIngressListener = z.strictObject({
  port: SidecarPort,
  bind: z.string().optional(),
  captureMode: CaptureMode.optional(),
  defaultEndpoint: z.string().optional(),
  tls: ServerTLSSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
});
export type IstioIngressListener = z.infer<typeof IstioIngressListener>;

export const IstioEgressListener = z.strictObject({
  port: SidecarPort.optional(),
  bind: z.string().optional(),
  captureMode: CaptureMode.optional(),
  hosts: z.array(z.string()),
});
export type IstioEgressListener = z.infer<typeof IstioEgressListener>;

export const OutboundTrafficPolicy = z.strictObject({
  mode: z.enum(['REGISTRY_ONLY', 'ALLOW_ANY']).optional(),
  egressProxy: z.strictObject({
    host: z.string(),
    subset: z.string().optional(),
    port: z.strictObject({ number: PortNumber.optional() }).optional(),
  }).optional(),
});
export type OutboundTrafficPolicy = z.infer<typeof OutboundTrafficPolicy>;

export const SidecarSpec = z.strictObject({
  workloadSelector: WorkloadSelector.optional(),
  ingress: z.array(IstioIngressListener).optional(),
  egress: z.array(IstioEgressListener).optional(),
  inboundConnectionPool: ConnectionPoolSettings.optional(),
  outboundTrafficPolicy: OutboundTrafficPolicy.optional(),
});
export type SidecarSpec = z.infer<typeof SidecarSpec>;

export const SidecarSchema = istioObject('Sidecar', SidecarSpec);
// Port is re-exported for callers that build Sidecar-like listeners from Gateway ports.
export { Port, ClientTLSSettings };
