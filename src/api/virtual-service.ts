/** VirtualService (networking.istio.io): every field of Istio's current API. */
import { z } from 'zod';
import { Duration, Int32, Labels, Percent, PortNumber, PortSelector, StringMatch, UInt32, istioObject } from './common.js';

export const Destination = z.strictObject({
  host: z.string(),
  subset: z.string().optional(),
  port: PortSelector.optional(),
});
export type Destination = z.infer<typeof Destination>;

export const HeaderOperations = z.strictObject({
  set: z.record(z.string(), z.string()).optional(),
  add: z.record(z.string(), z.string()).optional(),
  remove: z.array(z.string()).optional(),
});
export type HeaderOperations = z.infer<typeof HeaderOperations>;

export const Headers = z.strictObject({ request: HeaderOperations.optional(), response: HeaderOperations.optional() });
export type Headers = z.infer<typeof Headers>;

export const HTTPMatchRequest = z.strictObject({
  name: z.string().optional(),
  uri: StringMatch.optional(),
  scheme: StringMatch.optional(),
  method: StringMatch.optional(),
  authority: StringMatch.optional(),
  headers: z.record(z.string(), StringMatch).optional(),
  port: PortNumber.optional(),
  sourceLabels: Labels.optional(),
  gateways: z.array(z.string()).optional(),
  queryParams: z.record(z.string(), StringMatch).optional(),
  ignoreUriCase: z.boolean().optional(),
  withoutHeaders: z.record(z.string(), StringMatch).optional(),
  sourceNamespace: z.string().optional(),
  statPrefix: z.string().optional(),
});
export type HTTPMatchRequest = z.infer<typeof HTTPMatchRequest>;

export const HTTPRouteDestination = z.strictObject({
  destination: Destination,
  weight: Int32.optional(),
  headers: Headers.optional(),
});
export type HTTPRouteDestination = z.infer<typeof HTTPRouteDestination>;

export const RouteDestination = z.strictObject({ destination: Destination, weight: Int32.optional() });
export type RouteDestination = z.infer<typeof RouteDestination>;

export const Delegate = z.strictObject({ name: z.string().optional(), namespace: z.string().optional() });
export type Delegate = z.infer<typeof Delegate>;

export const HTTPRedirect = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  port: PortNumber.optional(),
  derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
  scheme: z.string().optional(),
  redirectCode: UInt32.optional(),
});
export type HTTPRedirect = z.infer<typeof HTTPRedirect>;

export const HTTPBody = z.strictObject({ string: z.string().optional(), bytes: z.string().optional() });
export type HTTPBody = z.infer<typeof HTTPBody>;

export const HTTPDirectResponse = z.strictObject({ status: UInt32, body: HTTPBody.optional() });
export type HTTPDirectResponse = z.infer<typeof HTTPDirectResponse>;

export const RegexRewrite = z.strictObject({ match: z.string().optional(), rewrite: z.string().optional() });
export type RegexRewrite = z.infer<typeof RegexRewrite>;

export const HTTPRewrite = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  uriRegexRewrite: RegexRewrite.optional(),
});
export type HTTPRewrite = z.infer<typeof HTTPRewrite>;

export const HTTPRetry = z.strictObject({
  attempts: Int32.optional(),
  perTryTimeout: Duration.optional(),
  retryOn: z.string().optional(),
  retryRemoteLocalities: z.boolean().optional(),
  retryIgnorePreviousHosts: z.boolean().optional(),
  backoff: Duration.optional(),
});
export type HTTPRetry = z.infer<typeof HTTPRetry>;

export const CorsPolicy = z.strictObject({
  allowOrigin: z.array(z.string()).optional(),
  allowOrigins: z.array(StringMatch).optional(),
  allowMethods: z.array(z.string()).optional(),
  allowHeaders: z.array(z.string()).optional(),
  exposeHeaders: z.array(z.string()).optional(),
  maxAge: Duration.optional(),
  allowCredentials: z.boolean().optional(),
  unmatchedPreflights: z.enum(['UNSPECIFIED', 'FORWARD', 'IGNORE']).optional(),
});
export type CorsPolicy = z.infer<typeof CorsPolicy>;

export const HTTPFaultInjection = z.strictObject({
  delay: z.strictObject({
    fixedDelay: Duration.optional(),
    exponentialDelay: Duration.optional(),
    percentage: Percent.optional(),
    percent: Int32.optional(),
  }).optional(),
  abort: z.strictObject({
    httpStatus: Int32.optional(),
    grpcStatus: z.string().optional(),
    http2Error: z.string().optional(),
    percentage: Percent.optional(),
  }).optional(),
});
export type HTTPFaultInjection = z.infer<typeof HTTPFaultInjection>;

export const HTTPMirrorPolicy = z.strictObject({ destination: Destination, percentage: Percent.optional() });
export type HTTPMirrorPolicy = z.infer<typeof HTTPMirrorPolicy>;

export const HTTPRoute = z.strictObject({
  name: z.string().optional(),
  match: z.array(HTTPMatchRequest).optional(),
  route: z.array(HTTPRouteDestination).optional(),
  redirect: HTTPRedirect.optional(),
  directResponse: HTTPDirectResponse.optional(),
  delegate: Delegate.optional(),
  rewrite: HTTPRewrite.optional(),
  timeout: Duration.optional(),
  retries: HTTPRetry.optional(),
  fault: HTTPFaultInjection.optional(),
  mirror: Destination.optional(),
  mirrors: z.array(HTTPMirrorPolicy).optional(),
  mirrorPercent: UInt32.optional(),
  mirrorPercentage: Percent.optional(),
  corsPolicy: CorsPolicy.optional(),
  headers: Headers.optional(),
});
export type HTTPRoute = z.infer<typeof HTTPRoute>;

export const L4MatchAttributes = z.strictObject({
  destinationSubnets: z.array(z.string()).optional(),
  port: PortNumber.optional(),
  sourceLabels: Labels.optional(),
  gateways: z.array(z.string()).optional(),
  sourceNamespace: z.string().optional(),
});
export type L4MatchAttributes = z.infer<typeof L4MatchAttributes>;

export const TLSMatchAttributes = z.strictObject({
  sniHosts: z.array(z.string()),
  destinationSubnets: z.array(z.string()).optional(),
  port: PortNumber.optional(),
  sourceLabels: Labels.optional(),
  gateways: z.array(z.string()).optional(),
  sourceNamespace: z.string().optional(),
});
export type TLSMatchAttributes = z.infer<typeof TLSMatchAttributes>;

export const TCPRoute = z.strictObject({ match: z.array(L4MatchAttributes).optional(), route: z.array(RouteDestination).optional() });
export type TCPRoute = z.infer<typeof TCPRoute>;

export const TLSRoute = z.strictObject({ match: z.array(TLSMatchAttributes), route: z.array(RouteDestination).optional() });
export type TLSRoute = z.infer<typeof TLSRoute>;

export const VirtualServiceSpec = z.strictObject({
  hosts: z.array(z.string()).optional(),
  gateways: z.array(z.string()).optional(),
  http: z.array(HTTPRoute).optional(),
  tls: z.array(TLSRoute).optional(),
  tcp: z.array(TCPRoute).optional(),
  exportTo: z.array(z.string()).optional(),
});
export type VirtualServiceSpec = z.infer<typeof VirtualServiceSpec>;

export const VirtualServiceSchema = istioObject('VirtualService', VirtualServiceSpec);
