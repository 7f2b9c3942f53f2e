// The ctsync BPF object: opened from the committed bytes, sized, loaded with the chosen
// programs, and closed. Program attachment lives in one module per program type
// (socket-filter.ts, tracing.ts), as in aya and cilium/ebpf.
import { libbpf, withLog, type Handle, LibBpfUnavailable } from './libbpf.ts';
import { objectBytes, PROGRAMS, type ProgramName, type MapName } from './ctsync.gen.ts';
import { errno, errnoName, E } from '../libc.ts';

export type LoadFailure =
  /** libbpf.so.1 missing or unusable */
  | 'no-libbpf'
  /** the process may not create BPF maps or programs (CAP_BPF / root missing) */
  | 'no-permission'
  /** a tracing (trampoline) program was refused with EPERM */
  | 'trampoline-refused'
  /** the verifier rejected a program */
  | 'verifier'
  | 'other';

export class BpfLoadError extends Error {
  override name = 'BpfLoadError';
  constructor(
    message: string,
    readonly failure: LoadFailure,
    readonly errno: number,
    /** the program whose load failed, when libbpf said so */
    readonly program: string | undefined,
    /** what libbpf logged (the verifier log included) */
    readonly log: string,
  ) {
    super(message);
  }
}

export interface ObjectOptions {
  /** ring-buffer data size in bytes: a power of two multiple of the page size */
  ringBytes: number;
  /** programs to load; the others are switched off (bpf_program__set_autoload) */
  programs: readonly ProgramName[];
}

const TRACING_PROGRAMS: readonly string[] = ['ct_trace_event', 'ct_trace_verify'];

function classify(ret: number, log: string): { failure: LoadFailure; program?: string; message: string } {
  const err = -ret;
  const m = /prog '(\w+)': BPF program load failed: ([^\n]*)/.exec(log);
  const program = m?.[1];
  if (program && TRACING_PROGRAMS.includes(program) && err === E.EPERM) {
    return { failure: 'trampoline-refused', program, message: `${program}: EPERM, BPF trampolines for fentry/fexit not permitted by this kernel` };
  }
  if (/failed to create map|Error in bpf_create_map|map '\w+': failed to create/.test(log) && (err === E.EPERM || err === E.EACCES)) {
    return { failure: 'no-permission', message: 'creating BPF maps not permitted (run as root or with CAP_BPF and CAP_NET_ADMIN)' };
  }
  if (program && (err === E.EACCES || err === E.EINVAL) && /processed \d+ insns|\n\d+: \(/.test(log)) {
    const last = log.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('libbpf:') && !/^-- END/.test(l)).slice(-2).join(' / ');
    return { failure: 'verifier', program, message: `${program} rejected by the BPF verifier: ${last}` };
  }
  if (err === E.EPERM) {
    return { failure: 'no-permission', program, message: `${program ? `${program}: ` : ''}BPF not permitted (run as root or with CAP_BPF and CAP_NET_ADMIN)` };
  }
  return { failure: 'other', program, message: `${program ? `${program}: ` : ''}${m?.[2] ?? errnoName(err)}` };
}

export class CtsyncObject {
  readonly ringBytes: number;
  private closed = false;

  private constructor(private readonly obj: Handle, readonly programs: readonly ProgramName[], ringBytes: number) {
    this.ringBytes = ringBytes;
  }

  /** Opens and loads the object; throws BpfLoadError (with libbpf's log) on failure. */
  static load(opt: ObjectOptions): CtsyncObject {
    let lib;
    try {
      lib = libbpf();
    } catch (e) {
      if (e instanceof LibBpfUnavailable) throw new BpfLoadError(e.message, 'no-libbpf', 0, undefined, '');
      throw e;
    }
    const bytes = objectBytes();
    const opened = withLog(() => lib.openMem(bytes, 'ctsync'));
    const obj = opened.value;
    if (!obj) {
      const e = errno();
      throw new BpfLoadError(`opening the BPF object failed: ${errnoName(e)}`, 'other', e, undefined, opened.log);
    }
    try {
      const events = lib.findMap(obj, 'events' satisfies MapName);
      if (!events) throw new BpfLoadError('BPF object without its ring buffer map', 'other', E.ENOENT, undefined, '');
      const r = lib.mapSetMaxEntries(events, opt.ringBytes);
      if (r < 0) throw new BpfLoadError(`ring buffer size ${opt.ringBytes}: ${errnoName(-r)}`, 'other', -r, undefined, '');
      for (const name of PROGRAMS) {
        const p = lib.findProgram(obj, name);
        if (!p) throw new BpfLoadError(`BPF object without program ${name}`, 'other', E.ENOENT, name, '');
        lib.programSetAutoload(p, opt.programs.includes(name));
      }
      const loaded = withLog(() => lib.objectLoad(obj));
      if (loaded.value < 0) {
        const c = classify(loaded.value, loaded.log);
        throw new BpfLoadError(c.message, c.failure, -loaded.value, c.program, loaded.log);
      }
    } catch (e) {
      // libbpf allows one load attempt per object: a retry opens a new one
      lib.objectClose(obj);
      throw e;
    }
    return new CtsyncObject(obj, [...opt.programs], opt.ringBytes);
  }

  private handle(): Handle {
    if (this.closed) throw new Error('BPF object is closed');
    return this.obj;
  }

  programHandle(name: ProgramName): Handle {
    const p = libbpf().findProgram(this.handle(), name);
    if (!p) throw new Error(`BPF program ${name} not found`);
    return p;
  }

  programFd(name: ProgramName): number {
    const fd = libbpf().programFd(this.programHandle(name));
    if (fd < 0) throw new Error(`BPF program ${name} is not loaded`);
    return fd;
  }

  mapFd(name: MapName): number {
    const m = libbpf().findMap(this.handle(), name);
    const fd = m ? libbpf().mapFd(m) : -1;
    if (fd < 0) throw new Error(`BPF map ${name} not found`);
    return fd;
  }

  /** Closes the object: its programs and maps go once nothing else holds them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    libbpf().objectClose(this.obj);
  }
}
