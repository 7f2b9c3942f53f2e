// conntrackd-style log lines, `[Sun Nov 22 10:00:00 2026] (pid=N) [notice] message`, to stderr and,
// unless disable-syslog, to syslog (/dev/log, facility daemon, tag ctsync).
import process from 'node:process';
import { openSync, writeSync, closeSync } from 'node:fs';
import { libc } from '../kernel/libc.ts';

export type Level = 'notice' | 'warning' | 'ERROR' | 'info';
const PRIORITY: Record<Level, number> = { ERROR: 3, warning: 4, notice: 5, info: 6 };
const FACILITY_DAEMON = 3;

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');

/** C's ctime(3) without the newline: `Wed Jun 30 21:49:08 1993`, the day padded with a space. */
export function ctime(d: Date): string {
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2)} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

export class Logger {
  private syslogFd = -1;
  /** lines syslog did not take (no /dev/log, or it refused) */
  syslogFailures = 0;
  readonly recent: string[] = [];
  /** lines the log file did not take */
  fileFailures = 0;
  private fileFd = -1;
  private filePath: string | undefined;

  private readonly syslogAddr: Uint8Array;

  /** `syslogPath`: the syslog socket; CTSYNC_SYSLOG_SOCKET overrides /dev/log (tests, containers) */
  constructor(
    private syslog = true,
    private readonly write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
    syslogPath = process.env.CTSYNC_SYSLOG_SOCKET || '/dev/log',
  ) {
    this.syslogAddr = unixAddress(syslogPath);
  }

  setSyslog(on: boolean): void {
    this.syslog = on;
    if (!on && this.syslogFd >= 0) { libc.close(this.syslogFd); this.syslogFd = -1; }
  }

  /** `log-file PATH`: lines are appended there too (mode 0600); undefined stops it. */
  setFile(path: string | undefined): void {
    if (path === this.filePath) return;
    if (this.fileFd >= 0) closeSync(this.fileFd);
    this.fileFd = -1;
    this.filePath = path;
    if (!path) return;
    try {
      this.fileFd = openSync(path, 'a', 0o600);
    } catch (e) {
      this.fileFailures++;
      this.write(`[${ctime(new Date())}] (pid=${process.pid}) [ERROR] cannot open log-file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  }

  log(level: Level, msg: string): void {
    const line = `[${ctime(new Date())}] (pid=${process.pid}) [${level}] ${msg}`;
    this.write(line);
    if (this.fileFd >= 0) {
      try { writeSync(this.fileFd, line + '\n'); } catch { this.fileFailures++; }
    }
    this.recent.push(line);
    if (this.recent.length > 200) this.recent.shift();
    if (this.syslog) this.toSyslog(level, msg);
  }

  notice(msg: string): void { this.log('notice', msg); }
  warn(msg: string): void { this.log('warning', msg); }
  error(msg: string): void { this.log('ERROR', msg); }
  info(msg: string): void { this.log('info', msg); }

  private toSyslog(level: Level, msg: string): void {
    if (this.syslogFd < 0) {
      this.syslogFd = libc.socket(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */ | 0x80000 | 0x800, 0);
      if (this.syslogFd < 0) { this.syslogFailures++; return; }
    }
    const text = `<${FACILITY_DAEMON * 8 + PRIORITY[level]}>ctsync[${process.pid}]: ${msg}`;
    const data = new TextEncoder().encode(text);
    if (libc.sendto(this.syslogFd, data, data.length, 0, this.syslogAddr, this.syslogAddr.length) < 0) this.syslogFailures++;
  }
}

/** struct sockaddr_un for a path. */
export function unixAddress(path: string): Uint8Array {
  const b = new Uint8Array(2 + path.length + 1);
  b[0] = 1; // AF_UNIX, little-endian sa_family
  for (let i = 0; i < path.length; i++) b[2 + i] = path.charCodeAt(i);
  return b;
}
