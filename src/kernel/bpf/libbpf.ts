// libbpf (the system libbpf.so.1, >= 1.0) through koffi: the calls the loader needs, and libbpf's
// log captured into a string (through vsnprintf) so that a failed load can say why.
import { koffi } from '../runtime.ts';
import { errnoName } from '../libc.ts';
import process from 'node:process';

/** Opaque native handles (koffi pointer objects). */
export type Handle = { readonly __handle: unique symbol };

export interface LibBpf {
  openMem(bytes: Uint8Array, name: string): Handle | null;
  objectLoad(obj: Handle): number;
  objectClose(obj: Handle): void;
  findMap(obj: Handle, name: string): Handle | null;
  findProgram(obj: Handle, name: string): Handle | null;
  mapSetMaxEntries(map: Handle, n: number): number;
  mapFd(map: Handle): number;
  programSetAutoload(prog: Handle, on: boolean): number;
  programFd(prog: Handle): number;
  programAttach(prog: Handle): Handle | null;
  linkDestroy(link: Handle): number;
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number): number;
  mapLookup(fd: number, key: Uint8Array, value: Uint8Array): number;
  mapDelete(fd: number, key: Uint8Array): number;
  possibleCpus(): number;
  /** BPF_PROG_TEST_RUN once over `data`: the syscall's result and the program's return value */
  testRun(progFd: number, data: Uint8Array): { ret: number; retval: number };
  /** BPF_ENABLE_STATS (run time): an fd that keeps the kernel counting while open, or -errno */
  enableRunTimeStats(): number;
  /** the id of the next loaded program after `id`, or -1 after the last */
  programNextId(id: number): number;
  programFdById(id: number): number;
  /** struct bpf_prog_info of a program fd into `info`; 0 or -errno */
  programInfo(fd: number, info: Uint8Array): number;
}

/** libbpf cannot be used on this host (library missing or too old). */
export class LibBpfUnavailable extends Error { override name = 'LibBpfUnavailable'; }

const LIBBPF_INFO = 1;
const LOG_LIMIT = 256 * 1024;

let lib: LibBpf | undefined;
let unavailable: string | undefined;
let logText = '';
let capturing = 0;
let printCallback: unknown;

function bind(): LibBpf {
  let so: ReturnType<typeof koffi.load>;
  // CTSYNC_LIBBPF: another libbpf.so.1 (e.g. one shipped beside a single-file build)
  const path = process.env.CTSYNC_LIBBPF || 'libbpf.so.1';
  try {
    so = koffi.load(path);
  } catch (e) {
    // the usual case on a bare host (and for the single binary, which carries no libbpf): say
    // "not found" and the package, rather than the loader's wording
    const why = (e as Error).message.split('\n')[0].replace(/^Failed to load shared library: /, '');
    const detail = /No such file or directory/.test(why) ? 'not found; on Debian: apt-get install libbpf1' : why;
    throw new LibBpfUnavailable(`${path} not loadable (${detail}); install libbpf1 (>= 1.0) or use event-source netlink`);
  }
  // prefixed: koffi's type names are global to the process
  for (const t of ['bpf_object', 'bpf_map', 'bpf_program', 'bpf_link']) koffi.opaque(`ctsync_${t}`);
  // struct bpf_object_open_opts, as far as object_name: libbpf accepts a shorter struct when
  // `sz` says so
  koffi.struct('ctsync_bpf_object_open_opts', { sz: 'size_t', object_name: 'const char *' });
  const f = (sig: string) => so.func(sig) as (...a: unknown[]) => unknown;
  // struct bpf_test_run_opts (libbpf 1.0)
  koffi.struct('ctsync_bpf_test_run_opts', {
    sz: 'size_t', data_in: 'const void *', data_out: 'void *', data_size_in: 'uint32_t', data_size_out: 'uint32_t',
    ctx_in: 'const void *', ctx_out: 'void *', ctx_size_in: 'uint32_t', ctx_size_out: 'uint32_t', retval: 'uint32_t',
    repeat: 'int', duration: 'uint32_t', flags: 'uint32_t', cpu: 'uint32_t', batch_size: 'uint32_t',
  });
  let openMem, load, close, findMap, findProg, setMax, mapFd, setAutoload, progFd, attach, destroy, update, lookup, del, cpus, testRun;
  let enableStats, nextId, fdById, objInfo;
  try {
    openMem = f('ctsync_bpf_object *bpf_object__open_mem(const void *buf, size_t sz, const ctsync_bpf_object_open_opts *opts)');
    load = f('int bpf_object__load(ctsync_bpf_object *obj)');
    close = f('void bpf_object__close(ctsync_bpf_object *obj)');
    findMap = f('ctsync_bpf_map *bpf_object__find_map_by_name(ctsync_bpf_object *obj, const char *name)');
    findProg = f('ctsync_bpf_program *bpf_object__find_program_by_name(ctsync_bpf_object *obj, const char *name)');
    setMax = f('int bpf_map__set_max_entries(ctsync_bpf_map *map, uint32_t n)');
    mapFd = f('int bpf_map__fd(ctsync_bpf_map *map)');
    setAutoload = f('int bpf_program__set_autoload(ctsync_bpf_program *prog, bool on)');
    progFd = f('int bpf_program__fd(ctsync_bpf_program *prog)');
    attach = f('ctsync_bpf_link *bpf_program__attach(ctsync_bpf_program *prog)');
    destroy = f('int bpf_link__destroy(ctsync_bpf_link *link)');
    update = f('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)');
    lookup = f('int bpf_map_lookup_elem(int fd, const void *key, _Inout_ void *value)');
    del = f('int bpf_map_delete_elem(int fd, const void *key)');
    cpus = f('int libbpf_num_possible_cpus()');
    testRun = f('int bpf_prog_test_run_opts(int fd, _Inout_ ctsync_bpf_test_run_opts *opts)');
    enableStats = f('int bpf_enable_stats(int type)');
    nextId = f('int bpf_prog_get_next_id(uint32_t start, _Out_ uint32_t *next)');
    fdById = f('int bpf_prog_get_fd_by_id(uint32_t id)');
    objInfo = f('int bpf_obj_get_info_by_fd(int fd, _Inout_ void *info, _Inout_ uint32_t *len)');
  } catch (e) {
    throw new LibBpfUnavailable(`libbpf.so.1 lacks a needed function (${(e as Error).message.split('\n')[0]}); libbpf >= 1.0 is required`);
  }
  // libbpf_print_fn_t is int (*)(enum libbpf_print_level, const char *, va_list); on x86-64 a
  // va_list argument is a pointer, which vasprintf takes back as is. vasprintf sizes the text
  // itself: a verifier log arrives as one message of any length.
  const libc = koffi.load('libc.so.6');
  const vasprintf = libc.func('int vasprintf(_Out_ void **out, const char *fmt, void *ap)') as
    (out: unknown[], fmt: string, ap: unknown) => number;
  const free = libc.func('void free(void *p)') as (p: unknown) => void;
  const PrintFn = koffi.proto('int ctsync_libbpf_print_fn(int level, const char *fmt, void *ap)');
  const setPrint = f('void *libbpf_set_print(ctsync_libbpf_print_fn *fn)');
  const out: unknown[] = [null];
  printCallback = koffi.register((level: number, fmt: string, ap: unknown) => {
    // only while withLog() listens; libbpf's debug chatter is never kept
    if (capturing === 0 || level > LIBBPF_INFO || logText.length > LOG_LIMIT) return 0;
    out[0] = null;
    const n = vasprintf(out, fmt, ap);
    if (n > 0 && out[0]) {
      const text = koffi.decode(out[0], 'char', n) as string;
      logText += text.length > LOG_LIMIT ? `[...]\n${text.slice(-LOG_LIMIT)}` : text;
    }
    if (out[0]) free(out[0]);
    return 0;
  }, koffi.pointer(PrintFn));
  setPrint(printCallback);

  return {
    openMem: (bytes, name) => openMem(bytes, bytes.length, { sz: 16, object_name: name }) as Handle | null,
    objectLoad: (o) => load(o) as number,
    objectClose: (o) => { close(o); },
    findMap: (o, n) => findMap(o, n) as Handle | null,
    findProgram: (o, n) => findProg(o, n) as Handle | null,
    mapSetMaxEntries: (m, n) => setMax(m, n) as number,
    mapFd: (m) => mapFd(m) as number,
    programSetAutoload: (p, on) => setAutoload(p, on) as number,
    programFd: (p) => progFd(p) as number,
    programAttach: (p) => attach(p) as Handle | null,
    linkDestroy: (l) => destroy(l) as number,
    mapUpdate: (fd, k, v, fl) => update(fd, k, v, fl) as number,
    mapLookup: (fd, k, v) => lookup(fd, k, v) as number,
    mapDelete: (fd, k) => del(fd, k) as number,
    possibleCpus: () => cpus() as number,
    testRun: (fd, data) => {
      const opts = {
        sz: 80, data_in: data, data_out: null, data_size_in: data.length, data_size_out: 0,
        ctx_in: null, ctx_out: null, ctx_size_in: 0, ctx_size_out: 0, retval: 0,
        repeat: 1, duration: 0, flags: 0, cpu: 0, batch_size: 0,
      };
      const ret = testRun!(fd, opts) as number;
      return { ret, retval: opts.retval };
    },
    enableRunTimeStats: () => enableStats!(0) as number,
    programNextId: (id) => {
      const next = new Uint32Array(1);
      return (nextId!(id, next) as number) === 0 ? next[0] : -1;
    },
    programFdById: (id) => fdById!(id) as number,
    programInfo: (fd, info) => objInfo!(fd, info, new Uint32Array([info.length])) as number,
  };
}

/** The libbpf binding; throws LibBpfUnavailable (one line, with the fix) when it cannot load. */
export function libbpf(): LibBpf {
  if (lib) return lib;
  if (unavailable) throw new LibBpfUnavailable(unavailable);
  try {
    lib = bind();
    return lib;
  } catch (e) {
    unavailable = (e as Error).message;
    throw e instanceof LibBpfUnavailable ? e : new LibBpfUnavailable(unavailable);
  }
}

/** Runs fn and returns what libbpf logged meanwhile (warnings and info). */
export function withLog<T>(fn: () => T): { value: T; log: string } {
  const before = logText;
  logText = '';
  capturing++;
  try {
    const value = fn();
    return { value, log: logText };
  } finally {
    capturing--;
    logText = before;
  }
}

/** libbpf's negative-errno return as a name, e.g. -1 -> EPERM. */
export function errName(ret: number): string {
  return errnoName(-ret);
}
