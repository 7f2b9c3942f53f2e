// Tracing programs (fentry/fexit, BPF trampolines): attached by libbpf from their section name
// (bpf_program__attach); the link's destruction detaches them.
import { libbpf, withLog, type Handle } from './libbpf.ts';
import { errno, errnoName } from '../libc.ts';
import type { CtsyncObject } from './object.ts';
import type { ProgramName } from './ctsync.gen.ts';

export interface TracingLink {
  readonly program: ProgramName;
  detach(): void;
}

export class TracingProgram {
  constructor(private readonly obj: CtsyncObject, readonly name: ProgramName) {}

  attach(): TracingLink {
    const lib = libbpf();
    const r = withLog(() => lib.programAttach(this.obj.programHandle(this.name)));
    if (!r.value) {
      const e = errno();
      const detail = r.log.trim().split('\n').pop() ?? '';
      throw new Error(`attaching ${this.name} failed: ${errnoName(e)}${detail ? ` (${detail})` : ''}`);
    }
    let link: Handle | undefined = r.value;
    return {
      program: this.name,
      detach: () => {
        if (!link) return;
        lib.linkDestroy(link);
        link = undefined;
      },
    };
  }
}
