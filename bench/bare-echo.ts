/**
 * The baseline every figure is compared to: the bare Node.js echo, `net.createServer(s => s.pipe(s))`.
 * Usage: `node bare-echo.js <port>`; prints `listening <port>` on stdout once bound to 127.0.0.1.
 */
import net from 'node:net';

const port = Number(process.argv[2] ?? 0);
// The only addition to the one-liner: an 'error' listener, because without it an ECONNRESET from
// a benchmark client would crash the baseline (an unhandled 'error' event throws).
const server = net.createServer((socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
