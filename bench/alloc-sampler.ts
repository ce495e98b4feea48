/**
 * Loaded into a server by bench/alloc.ts (`node --import alloc-sampler.js`): V8's sampling heap
 * profiler with the objects the collectors have already freed kept in (a connection's garbage is
 * what this looks for), and a count of the connections accepted meanwhile (the diagnostics channel
 * Node publishes every accepted socket on), so the bytes divide by connections exactly.
 * The first SIGUSR2 starts both; the second writes `{ connections, profile }` to allocProfilePath().
 */
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { allocProfilePath } from './lib/alloc-profile-path.js';

/** Bytes between two samples, on average (V8's default is 32 KiB; a connection allocates a few KiB). */
const SAMPLING_INTERVAL = 128;

const session = new Session();
session.connect();
session.post('HeapProfiler.enable');
let sampling = false;
let connections = 0;
subscribe('net.server.socket', () => {
  if (sampling) connections++;
});
process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post('HeapProfiler.startSampling', {
      samplingInterval: SAMPLING_INTERVAL,
      includeObjectsCollectedByMinorGC: true,
      includeObjectsCollectedByMajorGC: true,
    });
    return;
  }
  sampling = false;
  session.post('HeapProfiler.stopSampling', (error, result) => {
    writeFileSync(allocProfilePath(process.pid), JSON.stringify(error ? { error: error.message } : { connections, profile: result.profile }));
  });
});
