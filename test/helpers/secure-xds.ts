/** Secure xDS test helpers: a CA-signed serving certificate (files) and a scripted ADS stream with a token. */
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificateAuthority, issueCertificate } from '../e2e/gateway/tls-certs.js';
import { adsServiceDefinition, type DiscoveryRequest, type DiscoveryResponse } from '../../src/xds/service.js';

export const SERVER_NAME = 'meshpilot.istio-system.svc';

/** A throwaway CA and a serving certificate it signed for SERVER_NAME, written as PEM files into dir. */
export function servingCertificate(dir: string): { caFile: string; certFile: string; keyFile: string; caPem: string } {
  const ca = certificateAuthority('meshpilot test CA');
  const serving = issueCertificate(ca, SERVER_NAME, [SERVER_NAME]);
  const f = (n: string, content: string) => { writeFileSync(join(dir, n), content); return join(dir, n); };
  return { caFile: f('ca.crt', ca.cert), certFile: f('xds.crt', serving.cert), keyFile: f('xds.key', serving.key), caPem: ca.cert };
}

/** One SotW ADS stream from a scripted client; collects responses, reports how the stream ended. */
export function openSecureStream(address: string, creds: grpc.ChannelCredentials, token?: string) {
  const Ctor = grpc.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');
  const client = new Ctor(address, creds, { 'grpc.ssl_target_name_override': SERVER_NAME, 'grpc.default_authority': SERVER_NAME });
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  const call = (client as unknown as { StreamAggregatedResources(md: grpc.Metadata): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamAggregatedResources(md);
  const responses: DiscoveryResponse[] = [];
  call.on('data', (r: DiscoveryResponse) => responses.push(r));
  const status = new Promise<grpc.StatusObject>((resolve) => {
    call.on('status', resolve);
    call.on('error', () => { /* the status event carries it */ });
  });
  return {
    responses,
    status,
    send: (req: DiscoveryRequest) => call.write(req),
    close: () => { call.cancel(); client.close(); },
  };
}

/** Settles to the stream's status, or 'open' if it is still open after `ms`. */
export function statusWithin(status: Promise<grpc.StatusObject>, ms: number): Promise<grpc.StatusObject | 'open'> {
  return Promise.race([status, new Promise<'open'>((r) => setTimeout(() => r('open'), ms))]);
}

