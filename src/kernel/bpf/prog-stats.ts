// Kernel time of loaded BPF programs: run_time_ns and run_cnt of struct bpf_prog_info, which the
// kernel counts only while statistics are on. BPF_ENABLE_STATS hands out an fd and counting lasts
// until it is closed, so nothing global is left switched on. ctsync's programs run where events
// are raised (the packet path, or whoever changes the table): a cost no process's CPU time shows,
// which the bench reports beside the daemons' own.
import { libbpf } from './libbpf.ts';
import { libc, SysError } from '../libc.ts';

/** struct bpf_prog_info (uapi, stable): the fields read here and the size asked for */
const INFO = { NAME: 64, NAME_LEN: 16, RUN_TIME_NS: 192, RUN_CNT: 200, SIZE: 232 } as const;

/** Turns run-time statistics on until close(); throws SysError (EPERM without CAP_SYS_ADMIN). */
export function enableRunTimeStats(): { close(): void } {
  const fd = libbpf().enableRunTimeStats();
  if (fd < 0) throw new SysError('bpf(BPF_ENABLE_STATS)', -fd);
  let open = true;
  return { close: () => { if (open) { open = false; libc.close(fd); } } };
}

export interface RunTime {
  /** ns spent in the programs since they were loaded (while statistics were on) */
  ns: number;
  runs: number;
  /** loaded programs with those names */
  programs: number;
}

const utf8 = new TextDecoder();

/** The summed run time of every loaded program with one of these names (up to 15 bytes each). */
export function programRunTime(...names: string[]): RunTime {
  const lib = libbpf();
  const info = new Uint8Array(INFO.SIZE);
  const dv = new DataView(info.buffer);
  const out: RunTime = { ns: 0, runs: 0, programs: 0 };
  for (let id = lib.programNextId(0); id > 0; id = lib.programNextId(id)) {
    const fd = lib.programFdById(id);
    if (fd < 0) continue; // unloaded meanwhile
    try {
      info.fill(0);
      if (lib.programInfo(fd, info) !== 0) continue;
      const end = info.indexOf(0, INFO.NAME);
      const got = utf8.decode(info.subarray(INFO.NAME, end < 0 || end > INFO.NAME + INFO.NAME_LEN ? INFO.NAME + INFO.NAME_LEN : end));
      if (!names.includes(got)) continue;
      out.ns += Number(dv.getBigUint64(INFO.RUN_TIME_NS, true));
      out.runs += Number(dv.getBigUint64(INFO.RUN_CNT, true));
      out.programs++;
    } finally {
      libc.close(fd);
    }
  }
  return out;
}
