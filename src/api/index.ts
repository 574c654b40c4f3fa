/** The typed API: schemas, types and validation of the five Istio kinds and the Kubernetes shapes used. */
export * from './result.js';
export { Duration, durationToMillis, ObjectMeta, StringMatch, Percent, WorkloadSelector, PortSelector, ISTIO_API_VERSIONS } from './common.js';
export * from './virtual-service.js';
export * from './destination-rule.js';
export * from './gateway.js';
export * from './service-entry.js';
export { IstioIngressListener, IstioEgressListener, OutboundTrafficPolicy, SidecarSpec, SidecarSchema } from './sidecar.js';
export * from './kube.js';
export * from './kinds.js';
export { validateResource, resourceRef, isIstioKind } from './validate.js';
export { isTlsProtocol, supportedCipherSuites } from './validate-gateway.js';
