// Preloaded into a profiled server (bench/profile.ts --what warm-push|warm-connect): SIGTTIN
// starts V8's CPU profiler, SIGTTOU stops it and writes the profile to BENCH_PROFILE_OUT, so a
// profile covers only the measured round of an already warm process (`--cpu-prof` covers the
// whole life, start-up and JIT warm-up included).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
const out = process.env.BENCH_PROFILE_OUT ?? `${process.cwd()}/warm.cpuprofile`;
const interval = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 200);

// BENCH_PROFILE_KIND=alloc records V8's sampling heap profiler instead (what is allocated, by
// stack, during the round: the garbage a push leaves for the scavenger).
const alloc = process.env.BENCH_PROFILE_KIND === 'alloc';

process.on('SIGTTIN', () => {
  if (alloc) {
    session.post('HeapProfiler.enable', () =>
      session.post('HeapProfiler.startSampling', {
        samplingInterval: 256,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      }),
    );
    return;
  }
  session.post('Profiler.enable', () =>
    session.post('Profiler.setSamplingInterval', { interval }, () => session.post('Profiler.start')),
  );
});
process.on('SIGTTOU', () => {
  session.post(alloc ? 'HeapProfiler.stopSampling' : 'Profiler.stop', (err, r) => {
    if (err) process.stderr.write(`profile: ${err.message}\n`);
    else writeFileSync(out, JSON.stringify(r.profile));
  });
});
