/** Secure xDS test helpers: a CA-signed serving certificate and a scripted ADS stream with a token. */
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adsServiceDefinition, type DiscoveryRequest, type DiscoveryResponse } from '../../src/xds/service.js';

export const SERVER_NAME = 'meshpilot.istio-system.svc';

/** A throwaway CA and a serving certificate it signed, for SERVER_NAME and 127.0.0.1. */
export function servingCertificate(dir: string): { caFile: string; certFile: string; keyFile: string; caPem: string } {
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=meshpilot test CA', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${SERVER_NAME}`, '-keyout', f('xds.key'), '-out', f('xds.csr')]);
  writeFileSync(f('ext.cnf'), `subjectAltName=DNS:${SERVER_NAME},IP:127.0.0.1\n`);
  run(['x509', '-req', '-in', f('xds.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('xds.crt')]);
  return { caFile: f('ca.crt'), certFile: f('xds.crt'), keyFile: f('xds.key'), caPem: readFileSync(f('ca.crt'), 'utf8') };
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

