// Network namespaces by name (/run/netns/NAME, as `ip netns` makes them). Sockets keep the
// namespace they were created in, so creating one while switched in binds it there for good.
import { libc, check } from './libc.ts';

const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0x80000;
let home: number | undefined;

/** Runs fn (synchronously) with this thread in the named network namespace, then switches back. */
export function inNetns<T>(name: string, fn: () => T): T {
  home ??= check('open(/proc/thread-self/ns/net)', libc.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC));
  const fd = check(`open(/run/netns/${name})`, libc.open(`/run/netns/${name}`, O_RDONLY | O_CLOEXEC));
  try {
    check(`setns(${name})`, libc.setns(fd, CLONE_NEWNET));
    try {
      return fn();
    } finally {
      check('setns(back)', libc.setns(home, CLONE_NEWNET));
    }
  } finally {
    libc.close(fd);
  }
}
