// timeout: 120
// `ctsync show conntrack table ipv4|ipv6` against a namespace's kernel table: the legacy VyOS
// layout, `--json` with every field of the Flow, and the warning when conntrack is not enabled.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { TRACK_ALL } from '../lab/topology.ts';
import { ctsyncCommand } from '../../src/kernel/runtime.ts';
import type { Netns } from '../lab/netns.ts';

async function ctsync(ns: Netns, args: string[]) {
  const [cmd, argv] = ctsyncCommand(args);
  return ns.exec(cmd, argv);
}

test('the legacy table layout, ipv4 and ipv6, with --json carrying every field', async () => {
  await withLab('tbl', async (lab) => {
    const ns = await lab.netns('fw');
    await ns.nft(TRACK_ALL);
    const add = (a: string) => ns.conntrackCli(['-I', ...a.split(' ')]);
    await add('-p tcp -s 192.0.2.87 -d 198.51.100.12 --sport 58172 --dport 22 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 430279 --mark 3');
    await add('-p icmp -s 192.0.2.100 -d 198.51.100.21 --icmp-type 8 --icmp-code 0 --icmp-id 7 -t 29');
    await add('-p udp -s 192.0.2.12 -d 203.0.113.14 --sport 60286 --dport 694 -t 29');
    await add('-p tcp -s 2001:db8::1 -d 2001:db8:2::9 --sport 1234 --dport 443 --state SYN_SENT -t 100');
    const ct = ns.conntrack();
    const ids = new Map(ct.dump().map((f) => [`${f.orig.src}`, f.id]));
    await ct.close();

    const v4 = (await ctsync(ns, ['show', 'conntrack', 'table', 'ipv4'])).stdout;
    const lines = v4.split('\n');
    assert.is(lines[0], 'TCP state codes: SS - SYN SENT, SR - SYN RECEIVED, ES - ESTABLISHED,');
    assert.ok(lines[3] === '', 'blank line after the legend');
    assert.match(lines[4], /^CONN ID {4}Source {17}Destination {12}Protocol {9}TIMEOUT$/);
    const row = (src: string) => lines.find((l) => l.startsWith(String(ids.get(src))));
    const tcp = row('192.0.2.87')!;
    assert.ok(tcp, v4);
    // %-10s %-22s %-22s %-16s %-20s
    assert.is(tcp.slice(11, 33).trimEnd(), '192.0.2.87:58172');
    assert.is(tcp.slice(34, 56).trimEnd(), '198.51.100.12:22');
    assert.is(tcp.slice(57, 73).trimEnd(), 'tcp [6] ES');
    assert.match(tcp.slice(74), /^43027\d$/);
    assert.match(row('192.0.2.100')!, /192\.0\.2\.100 +198\.51\.100\.21 +icmp \[1\] +2\d$/);
    assert.match(row('192.0.2.12')!, /192\.0\.2\.12:60286 +203\.0\.113\.14:694 +udp \[17\] +2\d$/);
    assert.not.match(v4, /2001:db8/);

    const v6 = (await ctsync(ns, ['show', 'conntrack', 'table', 'ipv6'])).stdout;
    assert.match(v6, /\[2001:db8::1\]:1234 +\[2001:db8:2::9\]:443 +tcp \[6\] SS/);

    const json = JSON.parse((await ctsync(ns, ['show', 'conntrack', 'table', 'ipv4', '--json'])).stdout);
    assert.is(json.length, 3);
    const j = json.find((x: { id: number }) => x.id === ids.get('192.0.2.87'));
    assert.ok(j, JSON.stringify(json));
    const text = JSON.stringify(j);
    for (const field of ['"mark":3', '"src":"192.0.2.87"', '"sport":58172', '"tcp":{"state":3', '"status":', '"timeout":', '"reply":{', '"use":1']) {
      assert.ok(text.includes(field), `${field} in ${text}`);
    }
  });
});

test('an empty table without any conntrack rule: the warning that conntrack is not enabled', async () => {
  await withLab('tbl', async (lab) => {
    const ns = await lab.netns('bare');
    const out = (await ctsync(ns, ['show', 'conntrack', 'table', 'ipv4'])).stdout;
    assert.match(out, /Warning: Connection tracking is not enabled/);
    await ns.nft(TRACK_ALL);
    const on = (await ctsync(ns, ['show', 'conntrack', 'table', 'ipv4'])).stdout;
    assert.not.match(on, /Warning/);
    assert.match(on, /^CONN ID/m);
  });
});

test.run();
