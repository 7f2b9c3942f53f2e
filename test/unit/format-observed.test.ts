// Statistics texts compared with conntrackd 1.4.7 itself: these strings were printed by
// `conntrackd -s VIEW` (Debian 12 package) for a FTFW node on a UDP link with two flows in its
// internal cache, ExpectationSync on, just after start. The snapshot below holds the same numbers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Snapshot, emptyCacheStats, emptySnapshot } from '../../src/control/snapshot.ts';
import { formatStats } from '../../src/cli/format/index.ts';

const OBSERVED: Record<string, string> = {
  ct: "cache internal:\ncurrent active connections:\t           2\nconnections created:\t\t           2\tfailed:\t           0\nconnections updated:\t\t           0\tfailed:\t           0\nconnections destroyed:\t\t           0\tfailed:\t           0\n\ncache external:\ncurrent active connections:\t           0\nconnections created:\t\t           0\tfailed:\t           0\nconnections updated:\t\t           0\tfailed:\t           0\nconnections destroyed:\t\t           0\tfailed:\t           0\n\ntraffic processed:\n                   0 Bytes                         0 Pckts\n\nUDP traffic (active device=va4112):\n                 280 Bytes sent                  128 Bytes recv\n                  10 Pckts sent                    8 Pckts recv\n                   0 Error send                    0 Error recv\n\nmessage tracking:\n                   0 Malformed msgs                    0 Lost msgs\n\n",
  network: "network statistics:\n\trecv:\n\t\tMalformed messages:\t                   0\n\t\tWrong protocol version:\t                   0\n\t\tMalformed header:\t                   0\n\t\tMalformed payload:\t                   0\n\t\tBad message type:\t                   0\n\t\tTruncated message:\t                   0\n\t\tBad message size:\t                   0\n\tsend:\n\t\tMalformed messages:\t                   0\n\nsequence tracking statistics:\n\trecv:\n\t\tPackets lost:\t\t                   0\n\t\tPackets before:\t\t                   0\n\nUDP traffic (active device=va4112):\n                 280 Bytes sent                  128 Bytes recv\n                  10 Pckts sent                    8 Pckts recv\n                   0 Error send                    0 Error recv\n\n",
  cache: "cache:internal\tactive objects:\t\t           2\n\tactive/total entries:\t\t           2/           2\n\tcreation OK/failed:\t\t           2/           0\n\t\tno memory available:\t           0\n\t\tno space left in cache:\t           0\n\tupdate OK/failed:\t\t           0/           0\n\t\tentry not found:\t           0\n\tdeletion created/failed:\t           0/           0\n\t\tentry not found:\t           0\n\ncache:external\tactive objects:\t\t           0\n\tactive/total entries:\t\t           0/           0\n\tcreation OK/failed:\t\t           0/           0\n\t\tno memory available:\t           0\n\t\tno space left in cache:\t           0\n\tupdate OK/failed:\t\t           0/           0\n\t\tentry not found:\t           0\n\tdeletion created/failed:\t           0/           0\n\t\tentry not found:\t           0\n\n",
  runtime: "daemon uptime: 0 min\n\nnetlink stats:\n\tevents received:\t                   2\n\tevents filtered:\t                   0\n\tevents unknown type:\t\t           0\n\tcatch event failed:\t\t           0\n\tdump unknown type:\t\t           0\n\tnetlink overrun:\t\t           0\n\tflush kernel table:\t\t           0\n\tresync with kernel table:\t           0\n\tcurrent buffer size (in bytes):\t     2097152\n\nruntime stats:\n\tchild process failed:\t\t           0\n\t\tchild process segfault:\t           0\n\t\tchild process termsig:\t           0\n\tselect failed:\t\t\t           0\n\twait failed:\t\t\t           0\n\tlocal read failed:\t\t           0\n\tlocal unknown request:\t\t           0\n\n",
  link: "UDP traffic device=va4112 status=RUNNING role=ACTIVE:\n                 280 Bytes sent                  128 Bytes recv\n                  10 Pckts sent                    8 Pckts recv\n                   0 Error send                    0 Error recv\n\n",
  rsqueue: "resent queue (len=1)\ncontrol -> seq:1795321128 flags:8\n",
  queue: "allocated queue nodes:\t\t           1\n\nqueue txqueue:\ncurrent elements:\t\t           0\nmaximum elements:\t\t  2147483647\nnot enough space errors:\t           0\n\nqueue errorq:\ncurrent elements:\t\t           0\nmaximum elements:\t\t         128\nnot enough space errors:\t           0\n\nqueue rsqueue:\ncurrent elements:\t\t           1\nmaximum elements:\t\t      131072\nnot enough space errors:\t           0\n\n",
  expect: "cache internal:\ncurrent active connections:\t           0\nconnections created:\t\t           0\tfailed:\t           0\nconnections updated:\t\t           0\tfailed:\t           0\nconnections destroyed:\t\t           0\tfailed:\t           0\n\ncache external:\ncurrent active connections:\t           0\nconnections created:\t\t           0\tfailed:\t           0\nconnections updated:\t\t           0\tfailed:\t           0\nconnections destroyed:\t\t           0\tfailed:\t           0\n\ntraffic processed:\n                   0 Bytes                         0 Pckts\n\nUDP traffic (active device=va4112):\n                 280 Bytes sent                  128 Bytes recv\n                  10 Pckts sent                    8 Pckts recv\n                   0 Error send                    0 Error recv\n\nmessage tracking:\n                   0 Malformed msgs                    0 Lost msgs\n\n",
};

function observedSnapshot(): Snapshot {
  const s = emptySnapshot();
  const two = { ...emptyCacheStats(), active: 2, objects: 2, total: 2, created: 2 };
  s.conntrack = { internal: { kind: 'cache', ...two }, external: { kind: 'cache', ...emptyCacheStats() } };
  s.expect = { internal: { kind: 'cache', ...emptyCacheStats() }, external: { kind: 'cache', ...emptyCacheStats() } };
  s.links = [{
    name: 'va4112', status: 'RUNNING', role: 'ACTIVE', transport: 'udp',
    bytesSent: 280, bytesRecv: 128, packetsSent: 10, packetsRecv: 8, errorsSend: 0, errorsRecv: 0,
  }];
  s.daemon.uptimeSeconds = 3;
  s.runtime.eventsReceived = 2;
  s.runtime.bufferSize = 2097152;
  s.resendQueue = { length: 1, entries: [{ kind: 'control', seq: 1795321128, flags: 8 }] };
  s.queues = {
    allocatedNodes: 1,
    list: [
      { name: 'txqueue', current: 0, max: 2147483647, enospc: 0 },
      { name: 'errorq', current: 0, max: 128, enospc: 0 },
      { name: 'rsqueue', current: 1, max: 131072, enospc: 0 },
    ],
  };
  return s;
}

for (const view of ['ct', 'network', 'cache', 'runtime', 'link', 'rsqueue', 'queue', 'expect'] as const) {
  test(`-s ${view} is byte-identical to conntrackd 1.4.7`, () => {
    assert.is(formatStats(observedSnapshot(), view), OBSERVED[view]);
  });
}

test.run();
