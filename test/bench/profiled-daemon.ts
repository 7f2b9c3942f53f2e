// `ctsync daemon -c FILE` with the V8 CPU profiler switched on once the daemon is up, for
// `npm run bench -- --profile DIR`. Node's --cpu-prof cannot be used: its SIGPROF ticks interrupt
// the BPF verifier (the program load fails with EAGAIN) and the daemon falls back to netlink.
//   node --import ./build/register.mjs test/bench/profiled-daemon.ts CONFIG OUT.cpuprofile
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { runDaemon } from '../../src/daemon/run.ts';

const [config, out] = process.argv.slice(2);
const session = new Session();
session.connect();
const post = <T>(method: string, params: object = {}) => new Promise<T>((resolve, reject) => {
  session.post(method, params, (err, res) => (err ? reject(err) : resolve(res as T)));
});

const done = runDaemon(config);
// the daemon is up once its event source is loaded; a second is ample
await new Promise((r) => setTimeout(r, 1000));
await post('Profiler.enable');
await post('Profiler.setSamplingInterval', { interval: 200 });
await post('Profiler.start');
const code = await done;
const { profile } = await post<{ profile: unknown }>('Profiler.stop');
writeFileSync(out, JSON.stringify(profile));
process.exit(code);
