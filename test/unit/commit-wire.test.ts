// Commit's request writer from stored messages (src/daemon/commit-wire.ts) against the Flow path:
// for generated conntrackd messages (any attribute order, NAT with and without the NAT status
// bits, ICMP, odd mixtures), the ctnetlink create request is byte for byte the one encodeFlow
// writes for decodeCt's Flow; messages with rarer attributes are left to the Flow path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeCreateFromWire } from '../../src/daemon/commit-wire.ts';
import { decodeCt, encodeCt } from '../../src/sync/codec.ts';
import { NTA, CT_ATTR_SIZE } from '../../src/sync/wire.ts';
import { NlWriter, NLM_F } from '../../src/kernel/nlmsg.ts';
import { encodeFlow, SUBSYS_CT, CT_MSG, familyToAf } from '../../src/kernel/ctnetlink.ts';
import { STATUS, type Flow } from '../../src/flow/flow.ts';

let seed = 0x1234567;
function rnd(n: number): number {
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
  return (seed >>> 0) % n;
}

/** A message of random attributes, each of a size the receiver accepts. */
function randomMessage(): Uint8Array {
  const v6 = rnd(4) === 0;
  const attrs: number[][] = [];
  const addr = () => (v6 ? [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 + rnd(3)] : [198, 51, 100, 1 + rnd(3)]);
  const push = (id: number, payload: number[]) => attrs.push([id, ...payload]);
  push(v6 ? NTA.IPV6 : NTA.IPV4, [...addr(), ...addr()]);
  const proto = [6, 6, 17, 1, 58, 47, 136, 132][rnd(8)];
  push(NTA.L4PROTO, [proto]);
  if (rnd(10)) push(NTA.STATUS, [0, 0, rnd(2) ? 0x01 : 0, [0x0a, 0x8e, 0x9e, 0xae, 0x09][rnd(5)] | (rnd(3) === 0 ? 0x80 : 0)].map((x, i) => (i === 2 && rnd(3) === 0 ? x | 0x01 : x)));
  if (rnd(6)) push(NTA.PORT, [rnd(2) ? 4 : 0, rnd(200), rnd(2) ? 0 : 1, 187]);
  if (rnd(3) === 0) push(NTA.TCP_STATE, [rnd(10)]);
  if (rnd(6) === 0) push(NTA.TCP_WSCALE_ORIG, [rnd(14)]);
  if (rnd(6) === 0) push(NTA.TCP_WSCALE_REPL, [rnd(14)]);
  if (rnd(4)) push(NTA.TIMEOUT, [0, 0, rnd(4), rnd(256)]);
  if (rnd(3) === 0) push(NTA.MARK, [0, 0, 0, rnd(3)]);
  if (rnd(3) === 0) push(v6 ? NTA.SNAT_IPV6 : NTA.SNAT_IPV4, addr());
  if (rnd(4) === 0) push(v6 ? NTA.DNAT_IPV6 : NTA.DNAT_IPV4, addr());
  if (rnd(3) === 0) push(NTA.SPAT_PORT, [rnd(256), rnd(256)]);
  if (rnd(4) === 0) push(NTA.DPAT_PORT, [rnd(256), rnd(256)]);
  if (rnd(3) === 0) push(NTA.ICMP_TYPE, [[8, 0, 13, 3, 128, 129, 135][rnd(7)]]);
  if (rnd(4) === 0) push(NTA.ICMP_CODE, [rnd(2)]);
  if (rnd(4) === 0) push(NTA.ICMP_ID, [rnd(256), rnd(256)]);
  if (rnd(10) === 0) push(NTA.ZONE, [0, rnd(3)]);
  if (rnd(15) === 0) push(NTA.MASTER_IPV4, [192, 0, 2, 1, 192, 0, 2, 2]);
  if (rnd(15) === 0) push(NTA.HELPER_NAME, [...'ftp'].map((c) => c.charCodeAt(0)).concat([0]));
  if (rnd(15) === 0) push(NTA.LABELS, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  // flows made through ctnetlink carry a (zero) synproxy extension
  if (rnd(3) === 0) push(NTA.SYNPROXY, [0, 0, 0, rnd(3), 0, 0, 1, 0, 0, 0, 0, rnd(2)]);
  // any order, and now and then an attribute twice (the receiver keeps the last)
  for (let i = attrs.length - 1; i > 0; i--) {
    const j = rnd(i + 1);
    [attrs[i], attrs[j]] = [attrs[j], attrs[i]];
  }
  if (rnd(20) === 0) attrs.push(attrs[rnd(attrs.length)]);
  const out: number[] = [0x10, 0, 0, 0, 0, 0, 0, 1];
  for (const [id, ...payload] of attrs) {
    const len = 4 + payload.length;
    const size = CT_ATTR_SIZE[id];
    if (size > 0 && size !== len) throw new Error(`test bug: attribute ${id} of ${len} bytes`);
    out.push(len >> 8, len & 0xff, 0, id, ...payload);
    while (out.length % 4) out.push(0);
  }
  out[2] = out.length >> 8;
  out[3] = out.length & 0xff;
  return Uint8Array.from(out);
}

function slowRequest(f: Flow, timeout: number, seq: number): Uint8Array {
  const w = new NlWriter(4096);
  w.begin((SUBSYS_CT << 8) | CT_MSG.NEW, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL, seq, familyToAf(f.family));
  encodeFlow(w, { ...f, status: f.status & ~STATUS.EXPECTED, timeout }, { create: true, liberal: true });
  w.end();
  return w.data().slice();
}

test('requests written from stored messages equal the Flow path\'s', () => {
  let fast = 0, flowPath = 0, checked = 0;
  const w = new NlWriter(4096);
  for (let i = 0; i < 30000; i++) {
    const m = randomMessage();
    const f = decodeCt(m, 0, m.length);
    if (typeof f === 'number') continue;
    checked++;
    const timeout = rnd(1000);
    w.reset();
    let received: number | undefined;
    const ok = writeCreateFromWire(w, m, 0, m.length, (t) => { received = t; return timeout; }, 77 + i);
    const rare = f.master !== undefined || f.helper !== undefined || f.labels !== undefined || f.sctp !== undefined ||
      f.dccp !== undefined || f.seqAdjOrig !== undefined;
    assert.is(ok, !rare, `message ${i}: ${Buffer.from(m).toString('hex')}`);
    if (!ok) { flowPath++; continue; }
    fast++;
    assert.is(received, f.timeout ?? -1, 'the message\'s own timeout, -1 when it has none');
    assert.equal([...w.data()], [...slowRequest(f, timeout, 77 + i)], `message ${i}: ${Buffer.from(m).toString('hex')} ${JSON.stringify(f)}`);
  }
  assert.ok(checked > 20000 && fast > 15000 && flowPath > 1000, `${checked} checked, ${fast} fast, ${flowPath} flow path`);
});

test('a message as ctsync or conntrackd sends it takes the fast way', () => {
  const f: Flow = {
    family: 4, orig: { src: '192.0.2.7', dst: '198.51.100.9', proto: 6, sport: 40000, dport: 443 },
    reply: { src: '198.51.100.9', dst: '203.0.113.77', proto: 6, sport: 443, dport: 61000 },
    status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED | STATUS.SRC_NAT | STATUS.SRC_NAT_DONE,
    timeout: 300, mark: 7, tcp: { state: 3 },
  };
  const b = new Uint8Array(256);
  const n = encodeCt(b, 0, 0, 0, 1, f);
  const w = new NlWriter(4096);
  assert.ok(writeCreateFromWire(w, b, 0, n, () => 280, 5));
  assert.equal([...w.data()], [...slowRequest(decodeCt(b, 0, n) as Flow, 280, 5)]);
});

test.run();
