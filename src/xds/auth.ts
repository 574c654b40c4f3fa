/**
 * Who is on the other end of an xDS stream, when the stream came in on the secure port: the proxy
 * presents a bearer token (gRPC metadata `authorization: Bearer TOKEN`); an authenticator maps it to
 * an identity (namespace + service account). The identity, not the node id, decides which
 * namespace the proxy belongs to.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Metadata } from '@grpc/grpc-js';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { KubeRest } from '../sources/kube/rest.js';

export interface ProxyIdentity {
  namespace: string;
  serviceAccount: string;
}

export interface XdsAuthenticator {
  /** Shown in logs: `token-file`, `kubernetes`. */
  readonly kind: string;
  /** The identity of a token, or an Error saying why it is not accepted. */
  authenticate(token: string): Promise<ProxyIdentity | Error>;
}

/** The bearer token of a call, if it sent one. */
export function bearerToken(md: Metadata): string | undefined {
  for (const v of md.get('authorization')) {
    const s = typeof v === 'string' ? v : v.toString('utf8');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(s);
    if (m) return m[1];
  }
  return undefined;
}

/** Why a proxy's claimed namespace does not fit its identity (undefined when it fits). */
export function identityMismatch(claimedNamespace: string, identity: ProxyIdentity): string | undefined {
  if (claimedNamespace === identity.namespace) return undefined;
  return `node id claims namespace "${claimedNamespace}" but the token belongs to ${identity.namespace}/${identity.serviceAccount}`;
}

const tokenFileSchema = z.object({
  tokens: z.array(z.strictObject({
    token: z.string().min(16, 'tokens must be at least 16 characters'),
    namespace: z.string().min(1),
    serviceAccount: z.string().min(1).default('default'),
  })),
});

/**
 * File mode: a YAML file `tokens: [{token, namespace, serviceAccount}]`. Re-read when it changes,
 * so tokens can be added or revoked without a restart. A file that stops parsing keeps the last
 * good set in force; its error is reported with every refused token.
 */
export class TokenFileAuthenticator implements XdsAuthenticator {
  readonly kind = 'token-file';
  private byToken = new Map<string, ProxyIdentity>();
  private loadedMtime = -1;
  private lastError: string | undefined;

  constructor(private readonly path: string) {
    this.reload();
    if (this.lastError) throw new Error(this.lastError);
  }

  async authenticate(token: string): Promise<ProxyIdentity | Error> {
    this.reload();
    const id = this.byToken.get(token);
    if (id) return id;
    return new Error(`unknown token${this.lastError ? ` (token file: ${this.lastError})` : ''}`);
  }

  private reload(): void {
    let mtime: number;
    try {
      mtime = statSync(this.path).mtimeMs;
    } catch (err) {
      this.lastError = `${this.path}: ${(err as Error).message}`;
      return;
    }
    if (mtime === this.loadedMtime) return;
    this.loadedMtime = mtime;
    try {
      const parsed = tokenFileSchema.safeParse(parseYaml(readFileSync(this.path, 'utf8')));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        this.lastError = `${this.path}: ${issue.path.join('.')}: ${issue.message}`;
        return;
      }
      this.byToken = new Map(parsed.data.tokens.map((t) => [t.token, { namespace: t.namespace, serviceAccount: t.serviceAccount }]));
      this.lastError = undefined;
    } catch (err) {
      this.lastError = `${this.path}: ${(err as Error).message}`;
    }
  }
}

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  user?: { username?: string };
}

/**
 * Kubernetes mode: the token is a ServiceAccount token, checked with a TokenReview. Answers are
 * cached for a minute (bounded), so a reconnect storm does not become a TokenReview storm.
 */
export class TokenReviewAuthenticator implements XdsAuthenticator {
  readonly kind = 'kubernetes';
  private readonly cache = new Map<string, { at: number; result: ProxyIdentity | Error }>();

  constructor(
    private readonly rest: KubeRest,
    private readonly audiences: string[] = [],
    private readonly now: () => number = Date.now,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  async authenticate(token: string): Promise<ProxyIdentity | Error> {
    const hit = this.cache.get(token);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.result;
    const result = await this.review(token);
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(token, { at: this.now(), result });
    return result;
  }

  private async review(token: string): Promise<ProxyIdentity | Error> {
    const spec: Record<string, unknown> = { token };
    if (this.audiences.length > 0) spec.audiences = this.audiences;
    let res;
    try {
      res = await this.rest.request<{ status?: TokenReviewStatus; message?: string }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec,
      });
    } catch (err) {
      return new Error(`TokenReview failed: ${(err as Error).message}`);
    }
    if (res.status !== 201 && res.status !== 200) return new Error(`TokenReview failed: HTTP ${res.status} ${res.body.message ?? ''}`.trim());
    const st = res.body.status ?? {};
    if (!st.authenticated) return new Error(`token not authenticated${st.error ? `: ${st.error}` : ''}`);
    return serviceAccountIdentity(st.user?.username ?? '');
  }
}

/** `system:serviceaccount:NS:NAME` → identity; anything else is not a workload. */
export function serviceAccountIdentity(username: string): ProxyIdentity | Error {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  if (!m) return new Error(`"${username}" is not a service account`);
  return { namespace: m[1], serviceAccount: m[2] };
}
