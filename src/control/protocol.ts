// The ctsync control protocol: one JSON request line, then JSON lines back: any number of
// progress lines, and one final line with the result or the error. The server closes after it.
export interface Request {
  cmd: string;
  args?: Record<string, unknown>;
}

export type Reply =
  | { progress: Progress }
  | { ok: true; result: unknown }
  | { ok: false; error: string };

export interface Progress {
  op: string;
  done: number;
  total: number;
  /** per second */
  rate?: number;
  /** seconds left, estimated */
  eta?: number;
}

export const DEFAULT_CONTROL_SOCKET = '/run/ctsync/ctsync.sock';
