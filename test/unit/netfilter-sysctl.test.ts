// net.netfilter settings (src/kernel/netfilter-sysctl.ts): the reader, and the advice at start for
// each value of nf_conntrack_events.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { netfilterSysctl, eventSettingAdvice, conntrackMax, conntrackCount } from '../../src/kernel/netfilter-sysctl.ts';

test('a setting is read as a number from its /proc/sys file; undefined when absent or not a number', () => {
  const files: Record<string, string> = { '/proc/sys/net/netfilter/nf_conntrack_max': '262144\n', '/proc/sys/net/netfilter/odd': 'x\n' };
  const read = (p: string) => { if (!(p in files)) throw new Error('ENOENT'); return files[p]; };
  assert.is(netfilterSysctl('nf_conntrack_max', read), 262144);
  assert.is(netfilterSysctl('odd', read), undefined);
  assert.is(netfilterSysctl('nf_conntrack_events', read), undefined);
});

test('the table limit falls back to 262,144 and the count to undefined when unreadable or 0', () => {
  const files: Record<string, string> = { '/proc/sys/net/netfilter/nf_conntrack_max': '65536\n', '/proc/sys/net/netfilter/nf_conntrack_count': '0\n' };
  const read = (p: string) => { if (!(p in files)) throw new Error('ENOENT'); return files[p]; };
  assert.is(conntrackMax(read), 65536);
  assert.is(conntrackCount(read), undefined);
  const none = () => { throw new Error('ENOENT'); };
  assert.is(conntrackMax(none), 262144);
  assert.is(conntrackCount(none), undefined);
});

test('nf_conntrack_events: 1 says nothing, 2 warns with the fix, 0 is an error', () => {
  assert.is(eventSettingAdvice(1), undefined);
  assert.is(eventSettingAdvice(undefined), undefined);
  const two = eventSettingAdvice(2)!;
  assert.is(two.level, 'warning');
  assert.match(two.text, /created while no daemon runs .* never reports its end/);
  assert.match(two.text, /sysctl -w net\.netfilter\.nf_conntrack_events=1/);
  const zero = eventSettingAdvice(0)!;
  assert.is(zero.level, 'ERROR');
  assert.match(zero.text, /no flow of this node is synchronised/);
});

test.run();
