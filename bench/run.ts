/**
 * `npm run bench`: the scale suite, each figure against the target. Options:
 *   --suite all|translate|scope|incremental|fanout   (default all)
 *   --services N --vs N --routes N    cold translation mesh (default 1000 / 100 / 5000)
 *   --large N                         larger mesh for the incremental ratio (default 10000)
 *   --runs N --changes N              repetitions (default 20 / 500: a change costs a fraction of a millisecond now, so its median needs many samples)
 *   --proxies N --fanout-services N   fan-out (default 1000 proxies, 100 services)
 *   --envoys N                        fan-out: real Envoys beside the simulated proxies (default 3; 0 = none)
 *   --push-concurrency N              fan-out: meshpilot serve --push-concurrency
 *   --cpu-prof DIR                    fan-out: profile the meshpilot child (--cpu-prof into DIR)
 *   --fanout-change endpoints,vs      fan-out: which changes to time (default both: an EndpointSlice, a VirtualService)
 */
import { parseArgs } from 'node:util';
import { runFanoutBench } from './fanout.bench.js';
import { runIncrementalBench } from './incremental.bench.js';
import { summary } from './stats.js';
import { runScopeBench, runTranslateBench } from './translate.bench.js';

const { values } = parseArgs({
  options: {
    suite: { type: 'string', default: 'all' },
    services: { type: 'string', default: '1000' },
    vs: { type: 'string', default: '100' },
    routes: { type: 'string', default: '5000' },
    large: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '20' },
    changes: { type: 'string', default: '500' },
    proxies: { type: 'string', default: '1000' },
    'fanout-services': { type: 'string', default: '100' },
    'fanout-changes': { type: 'string', default: '5' },
    'ads': { type: 'string', default: 'sotw,delta' },
    'fanout-change': { type: 'string', default: 'endpoints,vs' },
    envoys: { type: 'string', default: '3' },
    'push-concurrency': { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const n = (k: keyof typeof values): number => {
  const v = Number(values[k]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${k} ${String(values[k])}: expected a positive integer`);
  return v;
};
const suites = values.suite === 'all' ? ['translate', 'scope', 'incremental', 'fanout'] : String(values.suite).split(',');
const size = { services: n('services'), virtualServices: n('vs'), routes: n('routes') };

console.log(`meshpilot scale benchmarks (node ${process.version}, ${new Date().toISOString()})`);
for (const s of suites) {
  if (s === 'translate') runTranslateBench(size, n('runs'));
  else if (s === 'scope') runScopeBench(size);
  else if (s === 'incremental') runIncrementalBench(size, { ...size, services: n('large') }, n('changes'));
  else if (s === 'fanout') {
    for (const mode of String(values.ads).split(',')) {
      if (mode !== 'sotw' && mode !== 'delta') throw new Error(`--ads ${mode}: expected sotw, delta or both (sotw,delta)`);
      const envoys = Number(values.envoys);
      if (!Number.isInteger(envoys) || envoys < 0) throw new Error(`--envoys ${values.envoys}: expected a whole number of 0 or more`);
      const changeKinds = String(values['fanout-change']).split(',').map((k) => {
        if (k !== 'endpoints' && k !== 'vs') throw new Error(`--fanout-change ${k}: expected endpoints, vs or both (endpoints,vs)`);
        return k;
      });
      await runFanoutBench({
        changeKinds,
        proxies: n('proxies'), size: { services: n('fanout-services'), virtualServices: 10, routes: 200 }, changes: n('fanout-changes'), mode, envoys,
        pushConcurrency: values['push-concurrency'] === undefined ? undefined : n('push-concurrency'), cpuProfDir: values['cpu-prof'],
      });
    }
  }
  else throw new Error(`--suite ${s}: expected translate, scope, incremental or fanout`);
}
const all = summary();
console.log(`\nsummary: ${all.filter((v) => v.pass).length}/${all.length} figures within target`);
for (const v of all) console.log(`  ${v.pass ? 'PASS' : 'FAIL'}  ${v.figure}: ${v.value} (target ${v.target})`);
