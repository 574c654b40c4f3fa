/**
 * Secure xDS end to end: meshpilot serves TLS xDS with its own certificate and accepts only
 * streams carrying a known bearer token; the token, not the node id, fixes the proxy's namespace;
 * a proxy cannot read another namespace's Secret. A real Envoy gateway connects over TLS with a
 * token and routes traffic; scripted gRPC clients try what a hostile or misconfigured proxy would.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../../../src/cli/echo-backend.js';
import { buildBootstrap } from '../../../src/proxy/bootstrap.js';
import { TYPE_URLS } from '../../../src/translator/types.js';
import { decodeResource } from '../../../src/xds/encode.js';
import { startEnvoy, type EnvoyProcess } from '../../helpers/envoy.js';
import { startMeshpilot, type MeshpilotProcess } from '../../helpers/meshpilot.js';
import { freePort } from '../../helpers/ports.js';
import { openSecureStream as openStream, SERVER_NAME, servingCertificate, statusWithin } from '../../helpers/secure-xds.js';
import { ConfigDir, eventually, GATEWAY_LABELS, GATEWAY_NODE, get, nacksIn, selfSignedCert, serviceWithBackends, tlsSecret } from '../gateway/fixture.js';

const GW_TOKEN = 'gw-token-0123456789abcdef';
const TEAM_A_TOKEN = 'team-a-token-0123456789abcdef';

describe('secure xDS: TLS, bearer tokens, identity and Secret scoping', () => {
  const cfg = new ConfigDir();
  const dir = mkdtempSync(join(tmpdir(), 'meshpilot-secure-'));
  let certs: ReturnType<typeof servingCertificate>;
  let mp: MeshpilotProcess;
  let envoy: EnvoyProcess | undefined;
  let backend: EchoBackend;
  let httpPort: number;
  let tlsCreds: grpc.ChannelCredentials;

  before(async () => {
    certs = servingCertificate(dir);
    tlsCreds = grpc.credentials.createSsl(Buffer.from(certs.caPem));
    writeFileSync(join(dir, 'tokens.yaml'), [
      'tokens:',
      `  - { token: ${GW_TOKEN}, namespace: istio-system, serviceAccount: ingressgateway }`,
      `  - { token: ${TEAM_A_TOKEN}, namespace: team-a, serviceAccount: default }`,
    ].join('\n') + '\n');
    backend = await startEchoBackend('secure-backend', '127.0.0.1', 0);
    httpPort = await freePort();
    const gwCert = selfSignedCert('gw.example.com', ['gw.example.com']);
    cfg.write('config.yaml', [
      ...serviceWithBackends('web', [{ backend, labels: { app: 'web' } }]),
      tlsSecret('gw-cert', 'istio-system', gwCert),
      tlsSecret('team-b-cert', 'team-b', selfSignedCert('b.example.com', ['b.example.com'])),
      {
        apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'istio-system' },
        spec: {
          selector: GATEWAY_LABELS,
          servers: [
            { port: { number: httpPort, name: 'http', protocol: 'HTTP' }, bind: '127.0.0.1', hosts: ['*/web.example.com'] },
            { port: { number: await freePort(), name: 'https', protocol: 'HTTPS' }, bind: '127.0.0.1', hosts: ['*/gw.example.com'], tls: { mode: 'SIMPLE', credentialName: 'gw-cert' } },
          ],
        },
      },
      {
        apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'default' },
        spec: { hosts: ['web.example.com'], gateways: ['istio-system/gw'], http: [{ route: [{ destination: { host: 'web' } }] }] },
      },
    ]);
    mp = await startMeshpilot({
      configDir: cfg.dir,
      extraArgs: ['--secure-xds-address', '127.0.0.1:0', '--xds-tls-cert', certs.certFile, '--xds-tls-key', certs.keyFile, '--xds-token-file', join(dir, 'tokens.yaml')],
    });
    assert.ok(mp.secureXdsAddress, 'meshpilot reports its secure xDS address');
  });

  after(async () => {
    await envoy?.stop();
    await mp?.stop();
    await backend?.close();
    cfg.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a real Envoy connects over TLS with a token, gets its configuration and routes traffic', async () => {
    const bootstrap = buildBootstrap({
      nodeId: GATEWAY_NODE, labels: GATEWAY_LABELS, xdsAddress: mp.secureXdsAddress!, adminAddress: `127.0.0.1:${await freePort()}`,
      xdsCaFile: certs.caFile, xdsServerName: SERVER_NAME, xdsToken: GW_TOKEN,
    });
    envoy = await startEnvoy({ bootstrap, name: 'secure-gateway' });
    await envoy.waitReady(20_000);
    await eventually(async () => {
      const r = await get(httpPort, '/hello', { host: 'web.example.com' });
      return r.status === 200 && r.body.includes('secure-backend');
    }, 'the gateway routes web.example.com to the backend', 15_000);
    const connected = await mp.waitForLog((e) => e.msg === 'proxy connected' && e.proxy === GATEWAY_NODE);
    assert.deepEqual(connected.identity, { namespace: 'istio-system', serviceAccount: 'ingressgateway' });
    assert.deepEqual(nacksIn(await mp.getJson('/debug/syncz')), []);
  });

  it('refuses a stream without a token, and one with an unknown token', async () => {
    for (const token of [undefined, 'not-a-known-token-at-all']) {
      const s = openStream(mp.secureXdsAddress!, tlsCreds, token);
      s.send({ node: { id: GATEWAY_NODE }, typeUrl: TYPE_URLS.clusters });
      const st = await statusWithin(s.status, 10_000);
      s.close();
      assert.notEqual(st, 'open', 'the stream is ended by meshpilot');
      assert.equal((st as grpc.StatusObject).code, grpc.status.UNAUTHENTICATED);
      assert.equal(s.responses.length, 0, 'no configuration was sent');
    }
    await mp.waitForLog((e) => typeof e.msg === 'string' && e.msg.startsWith('rejecting stream: no bearer token'));
    await mp.waitForLog((e) => typeof e.msg === 'string' && e.msg.startsWith('rejecting stream: unknown token'));
  });

  it('the namespace comes from the token: a node id claiming another namespace is refused', async () => {
    const s = openStream(mp.secureXdsAddress!, tlsCreds, TEAM_A_TOKEN);
    s.send({ node: { id: GATEWAY_NODE, metadata: {} }, typeUrl: TYPE_URLS.clusters });
    const st = await statusWithin(s.status, 10_000);
    s.close();
    assert.notEqual(st, 'open');
    assert.equal((st as grpc.StatusObject).code, grpc.status.PERMISSION_DENIED);
    assert.match((st as grpc.StatusObject).details, /claims namespace "istio-system" but the token belongs to team-a\/default/);
    assert.equal(s.responses.length, 0);
  });

  it('a plaintext client cannot talk to the TLS port', async () => {
    const s = openStream(mp.secureXdsAddress!, grpc.credentials.createInsecure(), GW_TOKEN);
    s.send({ node: { id: GATEWAY_NODE }, typeUrl: TYPE_URLS.clusters });
    const st = await statusWithin(s.status, 15_000);
    s.close();
    assert.notEqual(st, 'open');
    assert.equal((st as grpc.StatusObject).code, grpc.status.UNAVAILABLE);
    assert.equal(s.responses.length, 0);
  });

  it("a gateway gets its own namespace's Secret, and asking for another namespace's is refused and logged", async () => {
    const before = await refusedCount(mp);
    const s = openStream(mp.secureXdsAddress!, tlsCreds, GW_TOKEN);
    try {
      s.send({ node: { id: 'router~127.0.0.9~probe.istio-system~istio-system.svc.cluster.local', metadata: { fields: { LABELS: { structValue: { fields: { istio: { stringValue: 'ingressgateway' } } } } } } }, typeUrl: TYPE_URLS.secrets, resourceNames: ['kubernetes://gw-cert', 'kubernetes://team-b/team-b-cert'] });
      await eventually(async () => s.responses.some((r) => r.typeUrl === TYPE_URLS.secrets), 'a Secret response', 10_000);
      const names = s.responses.filter((r) => r.typeUrl === TYPE_URLS.secrets)
        .flatMap((r) => r.resources.map((a) => (decodeResource('secrets', a.value) as { name: string }).name));
      assert.deepEqual(names, ['kubernetes://gw-cert']);
      const refused = await mp.waitForLog((e) => e.msg === "refused Secret request: not the proxy's to read");
      assert.deepEqual(refused.refused, ['kubernetes://team-b/team-b-cert']);
      assert.equal(await refusedCount(mp), before + 1);
    } finally {
      s.close();
    }
  });
});

describe('debug endpoints reveal no private key', () => {
  it('/debug/configz lists Secrets with redacted values; /debug/config_dump redacts private keys', async () => {
    const cfg = new ConfigDir();
    const c = selfSignedCert('redact.example.com', ['redact.example.com']);
    cfg.write('secret.yaml', [tlsSecret('redact-cert', 'istio-system', c), {
      apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'istio-system' },
      spec: { selector: GATEWAY_LABELS, servers: [{ port: { number: await freePort(), name: 'https', protocol: 'HTTPS' }, bind: '127.0.0.1', hosts: ['*/redact.example.com'], tls: { mode: 'SIMPLE', credentialName: 'redact-cert' } }] },
    }]);
    const mp = await startMeshpilot({ configDir: cfg.dir });
    const s = openStream(mp.xdsAddress, grpc.credentials.createInsecure());
    try {
      const keyB64 = Buffer.from(c.key).toString('base64');
      const keyBody = c.key.split('\n')[1];
      const configz = (await mp.getText('/debug/configz')).body;
      assert.match(configz, /redact-cert/);
      assert.match(configz, /\[redacted\]/);
      assert.ok(!configz.includes(keyB64) && !configz.includes(keyBody), 'no private key in /debug/configz');
      s.send({ node: { id: GATEWAY_NODE, metadata: { fields: { LABELS: { structValue: { fields: { istio: { stringValue: 'ingressgateway' } } } } } } }, typeUrl: TYPE_URLS.secrets, resourceNames: ['kubernetes://redact-cert'] });
      await eventually(async () => s.responses.length > 0, 'the Secret was sent', 10_000);
      const dump = (await mp.getText(`/debug/config_dump?proxyID=${encodeURIComponent(GATEWAY_NODE)}`)).body;
      assert.match(dump, /kubernetes:\/\/redact-cert/);
      assert.ok(!dump.includes(keyBody) && !dump.includes(keyB64), 'no private key in /debug/config_dump');
    } finally {
      s.close();
      await mp.stop();
      cfg.remove();
    }
  });
});

async function refusedCount(mp: MeshpilotProcess): Promise<number> {
  const text = (await mp.getText('/metrics')).body;
  const m = /^meshpilot_xds_refused_secrets_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}
