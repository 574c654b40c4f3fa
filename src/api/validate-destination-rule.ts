/** Istio's semantic rules for DestinationRule. */
import { checkExportTo, checkLabels, checkMinDuration, checkWildcardHost, isDns1123Label, Issues } from './checks.js';
import type { ClientTLSSettings, ConnectionPoolSettings, DestinationRuleSpec, LoadBalancerSettings, OutlierDetection, TrafficPolicy } from './destination-rule.js';

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** Envoy's bounds: a maglev table size is a prime up to 5000011; a ring holds at most 8M entries. */
const MAX_MAGLEV_TABLE = 5000011;
const MAX_RING_SIZE = 8388608;

function checkLoadBalancer(issues: Issues, path: string, lb: LoadBalancerSettings): void {
  if (lb.simple !== undefined && lb.consistentHash !== undefined) issues.error(path, 'only one of simple or consistentHash may be set');
  const ch = lb.consistentHash;
  if (ch) {
    const keys = [ch.httpHeaderName, ch.httpCookie, ch.useSourceIp, ch.httpQueryParameterName].filter((x) => x !== undefined).length;
    if (keys !== 1) issues.error(`${path}.consistentHash`, 'exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName is required');
    if (ch.ringHash && ch.maglev) issues.error(`${path}.consistentHash`, 'only one of ringHash or maglev may be set');
    if (ch.minimumRingSize !== undefined && (ch.ringHash || ch.maglev)) issues.error(`${path}.consistentHash.minimumRingSize`, 'minimumRingSize is deprecated and cannot be combined with ringHash or maglev');
    if (ch.httpCookie) {
      if (!ch.httpCookie.name) issues.error(`${path}.consistentHash.httpCookie.name`, 'cookie name is required');
    }
    const table = ch.maglev?.tableSize;
    if (table && (table > MAX_MAGLEV_TABLE || !isPrime(table))) issues.error(`${path}.consistentHash.maglev.tableSize`, `tableSize ${table} must be a prime number no larger than ${MAX_MAGLEV_TABLE} (Envoy rejects others)`);
    for (const [p, v] of [['ringHash.minimumRingSize', ch.ringHash?.minimumRingSize], ['minimumRingSize', ch.minimumRingSize]] as const) {
      if (v !== undefined && v > MAX_RING_SIZE) issues.error(`${path}.consistentHash.${p}`, `ring size ${v} is larger than Envoy's maximum ${MAX_RING_SIZE}`);
    }
    if (ch.httpHeaderName === '') issues.error(`${path}.consistentHash.httpHeaderName`, 'header name must not be empty');
  }
  const loc = lb.localityLbSetting;
  if (loc) {
    if (loc.distribute?.length && loc.failover?.length) issues.error(`${path}.localityLbSetting`, 'only one of distribute or failover may be set');
    (loc.distribute ?? []).forEach((d, i) => {
      const total = Object.values(d.to ?? {}).reduce((a, b) => a + b, 0);
      if (total !== 100) issues.error(`${path}.localityLbSetting.distribute[${i}].to`, `weights must add up to 100 (got ${total})`);
      if (!d.from) issues.error(`${path}.localityLbSetting.distribute[${i}].from`, 'from is required');
    });
    (loc.failover ?? []).forEach((f, i) => {
      if (!f.from || !f.to) issues.error(`${path}.localityLbSetting.failover[${i}]`, 'from and to are both required');
      else if (f.from === f.to) issues.error(`${path}.localityLbSetting.failover[${i}]`, 'from and to must be different regions');
      if ((f.from ?? '').includes('/') || (f.to ?? '').includes('/')) issues.error(`${path}.localityLbSetting.failover[${i}]`, 'failover is between regions; "/" is not allowed');
    });
  }
  if (lb.warmupDurationSecs !== undefined && lb.warmup !== undefined) issues.error(path, 'only one of warmupDurationSecs or warmup may be set');
  checkMinDuration(issues, `${path}.warmupDurationSecs`, lb.warmupDurationSecs, 1);
}

function checkConnectionPool(issues: Issues, path: string, cp: ConnectionPoolSettings): void {
  if (!cp.tcp && !cp.http) issues.error(path, 'connectionPool must set tcp or http');
  const nonNeg = (p: string, v: number | undefined) => { if (v !== undefined && v < 0) issues.error(p, 'must not be negative'); };
  if (cp.tcp) {
    nonNeg(`${path}.tcp.maxConnections`, cp.tcp.maxConnections);
    checkMinDuration(issues, `${path}.tcp.connectTimeout`, cp.tcp.connectTimeout, 1);
    checkMinDuration(issues, `${path}.tcp.maxConnectionDuration`, cp.tcp.maxConnectionDuration, 1);
    checkMinDuration(issues, `${path}.tcp.idleTimeout`, cp.tcp.idleTimeout, 1);
    checkMinDuration(issues, `${path}.tcp.tcpKeepalive.time`, cp.tcp.tcpKeepalive?.time, 1000);
    checkMinDuration(issues, `${path}.tcp.tcpKeepalive.interval`, cp.tcp.tcpKeepalive?.interval, 1000);
  }
  if (cp.http) {
    for (const f of ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries', 'maxConcurrentStreams'] as const) nonNeg(`${path}.http.${f}`, cp.http[f]);
    checkMinDuration(issues, `${path}.http.idleTimeout`, cp.http.idleTimeout, 1);
  }
}

function checkOutlier(issues: Issues, path: string, od: OutlierDetection): void {
  checkMinDuration(issues, `${path}.interval`, od.interval, 1);
  checkMinDuration(issues, `${path}.baseEjectionTime`, od.baseEjectionTime, 1);
  for (const f of ['maxEjectionPercent', 'minHealthPercent'] as const) {
    const v = od[f];
    if (v !== undefined && (v < 0 || v > 100)) issues.error(`${path}.${f}`, `${f} must be between 0 and 100`);
  }
  if (od.consecutiveErrors !== undefined) issues.warn(`${path}.consecutiveErrors`, 'consecutiveErrors is deprecated; use consecutive5xxErrors');
  if (od.consecutiveLocalOriginFailures !== undefined && !od.splitExternalLocalOriginErrors) {
    issues.warn(`${path}.consecutiveLocalOriginFailures`, 'has no effect unless splitExternalLocalOriginErrors is true');
  }
}

function checkClientTls(issues: Issues, path: string, tls: ClientTLSSettings): void {
  const files = tls.clientCertificate !== undefined || tls.privateKey !== undefined || tls.caCertificates !== undefined;
  if (tls.credentialName && files) issues.error(path, 'credentialName cannot be combined with clientCertificate, privateKey or caCertificates');
  if (tls.mode === 'MUTUAL' && !tls.credentialName && (!tls.clientCertificate || !tls.privateKey)) {
    issues.error(path, 'MUTUAL mode needs credentialName, or both clientCertificate and privateKey');
  }
  if ((tls.mode === 'DISABLE' || tls.mode === 'ISTIO_MUTUAL') && (files || tls.credentialName || tls.sni || tls.subjectAltNames)) {
    issues.error(path, `${tls.mode} mode does not take certificates, credentialName, sni or subjectAltNames`);
  }
}

export function checkTrafficPolicy(issues: Issues, path: string, tp: TrafficPolicy, allowPortLevel = true): void {
  if (tp.loadBalancer) checkLoadBalancer(issues, `${path}.loadBalancer`, tp.loadBalancer);
  if (tp.connectionPool) checkConnectionPool(issues, `${path}.connectionPool`, tp.connectionPool);
  if (tp.outlierDetection) checkOutlier(issues, `${path}.outlierDetection`, tp.outlierDetection);
  if (tp.tls) checkClientTls(issues, `${path}.tls`, tp.tls);
  if (!allowPortLevel && tp.portLevelSettings) issues.error(`${path}.portLevelSettings`, 'not allowed here');
  const ports = new Set<number>();
  (tp.portLevelSettings ?? []).forEach((pl, i) => {
    const p = `${path}.portLevelSettings[${i}]`;
    if (pl.port?.number === undefined) issues.error(`${p}.port`, 'port number is required');
    else if (ports.has(pl.port.number)) issues.error(`${p}.port`, `port ${pl.port.number} appears more than once`);
    else ports.add(pl.port.number);
    if (pl.loadBalancer) checkLoadBalancer(issues, `${p}.loadBalancer`, pl.loadBalancer);
    if (pl.connectionPool) checkConnectionPool(issues, `${p}.connectionPool`, pl.connectionPool);
    if (pl.outlierDetection) checkOutlier(issues, `${p}.outlierDetection`, pl.outlierDetection);
    if (pl.tls) checkClientTls(issues, `${p}.tls`, pl.tls);
  });
  if (tp.tunnel && tp.tunnel.targetPort < 1) issues.error(`${path}.tunnel.targetPort`, 'targetPort must be a port number');
}

export function validateDestinationRuleSpec(spec: DestinationRuleSpec): Issues {
  const issues = new Issues();
  if (spec.host.includes('/')) issues.error('spec.host', `host "${spec.host}" must not contain "/"`);
  else checkWildcardHost(issues, 'spec.host', spec.host);
  if (spec.trafficPolicy) checkTrafficPolicy(issues, 'spec.trafficPolicy', spec.trafficPolicy);
  const names = new Set<string>();
  (spec.subsets ?? []).forEach((s, i) => {
    const p = `spec.subsets[${i}]`;
    if (!isDns1123Label(s.name)) issues.error(`${p}.name`, `subset name "${s.name}" must be a DNS-1123 label`);
    if (names.has(s.name)) issues.error(`${p}.name`, `duplicate subset name "${s.name}"`);
    names.add(s.name);
    checkLabels(issues, `${p}.labels`, s.labels);
    if (s.trafficPolicy) checkTrafficPolicy(issues, `${p}.trafficPolicy`, s.trafficPolicy);
  });
  checkExportTo(issues, 'spec.exportTo', spec.exportTo);
  if (spec.workloadSelector) {
    const sel = spec.workloadSelector;
    checkLabels(issues, 'spec.workloadSelector.matchLabels', sel.matchLabels);
    checkLabels(issues, 'spec.workloadSelector.labels', sel.labels);
    if (sel.labels && sel.matchLabels) issues.error('spec.workloadSelector', 'set matchLabels only (labels is an older spelling of the same selector)');
    else if (sel.labels) issues.warn('spec.workloadSelector.labels', 'DestinationRule selects workloads with matchLabels; labels is read as matchLabels');
    if (spec.exportTo && !(spec.exportTo.length === 1 && spec.exportTo[0] === '.')) {
      issues.error('spec.exportTo', 'a DestinationRule with workloadSelector can only be exported to its own namespace (".")');
    }
  }
  return issues;
}
