// timeout: 180
// expect-sync ftp: an FTP session through the lab makes the kernel's ftp helper expect a data
// connection; the expectation reaches the peer with its master and commits after it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildPair, ADDR } from '../lab/topology.ts';
import { startCtsync, until } from '../lab/daemons.ts';

const HELPER = `
table inet ctsync_ftp {
  ct helper ftp-standard {
    type "ftp" protocol tcp
  }
  chain pre {
    type filter hook prerouting priority 0; policy accept;
    tcp dport 21 ct helper set "ftp-standard"
  }
}
`;

test('an FTP session: the expectation reaches the peer and commits after its master', async () => {
  await withLab('exp', async (lab) => {
    const p = await buildPair(lab, { staticVip: true });
    await p.fw[0].nft(HELPER);
    const setup = (i: 0 | 1) => ({ iface: 'sync0', local: ADDR.sync[i], ignore: ['203.0.113.0/24', '2001:db8:3::/64'], expectSync: ['ftp'] });
    const active = await startCtsync(lab, p.fw[0], setup(0));
    const standby = await startCtsync(lab, p.fw[1], setup(1));
    const server = lab.agent(p.server, 'ftp', ['--serve', '21']);
    assert.is((await server.next()).event, 'ready');
    const client = lab.agent(p.client, 'ftp', ['--connect', ADDR.server, '--port', '21']);
    const pasv = await client.next(10000);
    assert.is(pasv.event, 'pasv');
    assert.match(String(pasv.reply), /^227 Entering Passive Mode \(198,51,100,100,195,82\)/);

    const exps = p.fw[0].conntrack().dumpExpectations();
    assert.is(exps.length, 1, 'the kernel helper expects the data connection');
    assert.is(exps[0].helper, 'ftp');
    assert.is(exps[0].tuple.dport, 50002);

    await until(async () => (await standby.request<unknown[]>('cache', { which: 'external', table: 'expect' })).length === 1, 5000, 'expectation replicated');
    const ext = (await standby.cache('external')).find((f) => f.orig.dport === 21);
    assert.ok(ext, 'master replicated');
    assert.is(ext!.helper, 'ftp');
    const shown = (await standby.cli(['show', 'conntrack-sync', 'cache', 'external', 'expect'])).stdout;
    assert.match(shown, /198\.51\.100\.100:50002/);

    const r = await standby.cli(['commit']);
    assert.match(r.stdout, /committed \d+ entries, 0 failed/);
    const kb = p.fw[1].conntrack();
    const master = kb.dump(4).find((f) => f.orig.dport === 21 && f.orig.src === ADDR.client);
    const got = kb.dumpExpectations();
    await kb.close();
    assert.ok(master, 'master in the standby kernel');
    assert.is(master!.helper, 'ftp');
    assert.is(got.length, 1, 'expectation in the standby kernel');
    assert.equal(got[0].tuple, exps[0].tuple);
    assert.equal(got[0].master, exps[0].master);
    assert.match(standby.output, /Committed 1 new expectations/);
    void active;
  });
});

test.run();
