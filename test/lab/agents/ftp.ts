// Just enough FTP for the kernel's ftp helper to create an expectation:
//   --serve PORT                       answers PASV with "227 Entering Passive Mode (...)"
//   --connect ADDR --port P            sends PASV, reports the reply, keeps the control connection
import net from 'node:net';
import { arg, say } from './io.ts';

export async function main(): Promise<void> {
  const serve = arg('serve', '');
  if (serve) {
    const server = net.createServer((s) => {
      s.write('220 ctsync lab ftp\r\n');
      s.on('data', (d) => {
        if (/^PASV/i.test(d.toString())) {
          const [a, b, c, e] = s.localAddress!.replace(/^::ffff:/, '').split('.');
          // data port 50002 = 195 * 256 + 82
          s.write(`227 Entering Passive Mode (${a},${b},${c},${e},195,82).\r\n`);
        }
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(Number(serve), '0.0.0.0', r));
    say({ event: 'ready' });
    return;
  }
  const sock = net.connect({ host: arg('connect'), port: Number(arg('port')) });
  sock.setEncoding('utf8');
  let buf = '';
  sock.on('data', (d: string) => {
    buf += d;
    if (buf.includes('220 ') && !buf.includes('PASV-SENT')) {
      buf += 'PASV-SENT';
      sock.write('PASV\r\n');
    }
    const m = /227 [^\r]*\r\n/.exec(buf);
    if (m) { say({ event: 'pasv', reply: m[0].trim(), local: sock.localPort }); buf = ''; }
  });
  sock.on('error', (e) => say({ event: 'error', message: String(e) }));
}
