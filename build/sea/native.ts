// Native modules carried inside the single executable must exist as files before the dynamic
// loader can map them. They are written once into a directory only this user can write to,
// named by the SHA-256 of their content, and reused by every later start that finds the same
// bytes there. Nothing is loaded from a directory or file whose owner or mode is not ours alone.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import process from 'node:process';

export interface Candidate {
  dir: string;
  /** create missing parents (with mode 0755); only for paths whose parents are system places */
  parents: boolean;
}

/**
 * Where extracted modules may go, best first:
 * CTSYNC_NATIVE_DIR (set by whoever installs ctsync), systemd's $RUNTIME_DIRECTORY/native and
 * $CACHE_DIRECTORY/native, /run/ctsync/native for root, $XDG_RUNTIME_DIR/ctsync for other users, and a 0700 directory of
 * the user's own under the temporary directory as the last resort.
 */
export function nativeDirCandidates(env: NodeJS.ProcessEnv = process.env, uid = euid()): Candidate[] {
  const out: Candidate[] = [];
  if (env.CTSYNC_NATIVE_DIR) out.push({ dir: env.CTSYNC_NATIVE_DIR, parents: false });
  // systemd may list several directories separated by colons; RuntimeDirectory=ctsync is the first
  // systemd's RuntimeDirectory= and CacheDirectory= (the unit sets both: /run is often noexec);
  // each may list several directories separated by colons, ctsync's is the first
  for (const v of [env.RUNTIME_DIRECTORY, env.CACHE_DIRECTORY]) {
    const d = v?.split(':')[0];
    if (d && d.startsWith('/')) out.push({ dir: join(d, 'native'), parents: false });
  }
  if (uid === 0) out.push({ dir: '/run/ctsync/native', parents: true });
  else if (env.XDG_RUNTIME_DIR?.startsWith('/')) out.push({ dir: join(env.XDG_RUNTIME_DIR, 'ctsync'), parents: false });
  out.push({ dir: join(tmpdir(), `ctsync-native-${uid}`), parents: false });
  return out.filter((c, i) => out.findIndex((o) => o.dir === c.dir) === i);
}

function euid(): number {
  return typeof process.geteuid === 'function' ? process.geteuid() : -1;
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/** Why `dir` is not a private directory of `uid` (undefined: it is). */
export function privateDirProblem(dir: string, uid = euid()): string | undefined {
  let st;
  try {
    st = lstatSync(dir);
  } catch (e) {
    return `${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`;
  }
  if (st.isSymbolicLink()) return `${dir} is a symbolic link`;
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (st.uid !== uid) return `${dir} belongs to uid ${st.uid}, not ${uid}`;
  if (st.mode & 0o077) return `${dir} has mode ${octal(st.mode)}, want 0700`;
  return undefined;
}

/** The mount options of the file system that holds `path` (from /proc/self/mountinfo). */
export function mountOptionsOf(path: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const real = realpathSync(path);
  let best = '';
  let opts: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 6) continue;
    // mount points escape spaces and the like as \040 etc.
    const point = f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const inside = point === '/' || real === point || real.startsWith(point + '/');
    // later lines stack on earlier ones at the same point
    if (inside && point.length >= best.length) { best = point; opts = f[5].split(','); }
  }
  return opts;
}

function ensureDir(c: Candidate, uid: number): string | undefined {
  try {
    if (c.parents) mkdirSync(dirname(c.dir), { recursive: true, mode: 0o755 });
    mkdirSync(c.dir, { mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') return `${c.dir}: cannot create (${code ?? e})`;
  }
  const bad = privateDirProblem(c.dir, uid);
  if (bad) return bad;
  if (mountOptionsOf(c.dir).includes('noexec')) return `${c.dir} is on a noexec mount`;
  return undefined;
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Whether `file` is a regular file of ours, not writable by others, holding exactly `hash`. */
function trusted(file: string, uid: number, size: number, hash: string): boolean {
  try {
    const st = lstatSync(file);
    if (!st.isFile() || st.uid !== uid || st.mode & 0o022 || st.size !== size) return false;
    return sha256(readFileSync(file)) === hash;
  } catch {
    return false;
  }
}

/** Writes bytes to `file` through a fresh temporary name in the same directory and a rename. */
function writeAtomically(file: string, bytes: Uint8Array): void {
  const tmp = join(dirname(file), `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, 'wx', 0o500);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
}

export class NativeExtractError extends Error { override name = 'NativeExtractError'; }

/**
 * The path of a private copy of `bytes` named `<name>-<sha256>.node`: the existing one when it is
 * intact, else freshly written. Throws one line listing every place tried and why it was refused.
 */
export function extractNative(name: string, bytes: Uint8Array, candidates = nativeDirCandidates()): string {
  const uid = euid();
  const hash = sha256(bytes);
  const problems: string[] = [];
  for (const c of candidates) {
    const bad = ensureDir(c, uid);
    if (bad) { problems.push(bad); continue; }
    const file = join(c.dir, `${name}-${hash}.node`);
    if (trusted(file, uid, bytes.length, hash)) return file;
    try {
      writeAtomically(file, bytes);
    } catch (e) {
      problems.push(`${c.dir}: cannot write (${(e as NodeJS.ErrnoException).code ?? e})`);
      continue;
    }
    if (trusted(file, uid, bytes.length, hash)) return file;
    problems.push(`${file}: changed after writing`);
  }
  throw new NativeExtractError(`cannot extract the native module ${name}: ${problems.join('; ')}; ` +
    'set CTSYNC_NATIVE_DIR to a directory of mode 0700, owned by this user, on a file system mounted without noexec');
}

/** Extracted copies of `name` in `dir` (for clean-up tools and tests). */
export function extractedFiles(dir: string, name: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.node')).map((f) => join(dir, f));
  } catch {
    return [];
  }
}
