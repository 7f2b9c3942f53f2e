// Installs ctsync's commit guard in a namespace and exits without removing it: the guard's exit
// hook must take the table away (the failover-guard test checks that it did).
//   --netns NAME
import process from 'node:process';
import { CommitGuard } from '../../../src/failover/guard.ts';
import { arg, say } from './io.ts';

export async function main(): Promise<void> {
  const g = new CommitGuard({ netns: arg('netns'), log: () => {} });
  if (!g.install()) process.exit(2);
  say({ event: 'installed' });
  process.exit(0);
}
