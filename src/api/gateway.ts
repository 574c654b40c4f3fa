/** Gateway (networking.istio.io): every field of Istio's current API. */
import { z } from 'zod';
import { Labels, PortNumber, UInt32, istioObject } from './common.js';

export const Port = z.strictObject({
  number: PortNumber,
  protocol: z.string(),
  name: z.string().optional(),
  targetPort: UInt32.optional(),
});
export type Port = z.infer<typeof Port>;

export const TLS_PROTOCOL_VERSIONS = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] as const;

export const ServerTLSSettings = z.strictObject({
  httpsRedirect: z.boolean().optional(),
  mode: z.enum(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL']).optional(),
  serverCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  caCrl: z.string().optional(),
  credentialName: z.string().optional(),
  credentialNames: z.array(z.string()).optional(),
  tlsCertificates: z.array(z.strictObject({
    serverCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
  })).optional(),
  subjectAltNames: z.array(z.string()).optional(),
  verifyCertificateSpki: z.array(z.string()).optional(),
  verifyCertificateHash: z.array(z.string()).optional(),
  minProtocolVersion: z.enum(TLS_PROTOCOL_VERSIONS).optional(),
  maxProtocolVersion: z.enum(TLS_PROTOCOL_VERSIONS).optional(),
  cipherSuites: z.array(z.string()).optional(),
});
export type ServerTLSSettings = z.infer<typeof ServerTLSSettings>;

export const Server = z.strictObject({
  port: Port,
  bind: z.string().optional(),
  hosts: z.array(z.string()),
  tls: ServerTLSSettings.optional(),
  defaultEndpoint: z.string().optional(),
  name: z.string().optional(),
});
export type Server = z.infer<typeof Server>;

export const GatewaySpec = z.strictObject({
  servers: z.array(Server).optional(),
  selector: Labels.optional(),
});
export type GatewaySpec = z.infer<typeof GatewaySpec>;

export const GatewaySchema = istioObject('Gateway', GatewaySpec);
