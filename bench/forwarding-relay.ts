import { createSocket } from 'node:dgram';
import { serveCommands, usageNow } from './forwarding-common.js';

/**
 * The baseline of the forwarding benchmark: a minimal plain UDP relay in Node. One socket on
 * 127.0.0.1; every datagram it receives is sent on, unchanged, to 127.0.0.1:<argv[2]> (the sink).
 * No crypto, no routing, no copies. Prints `{"ready":true,"port":N}`, then answers `usage` on stdin
 * as forwarding-node.ts does; stops when stdin closes.
 *
 *   node --import tsx bench/forwarding-relay.ts <sink port>
 */

const sinkPort = Number(process.argv[2]);
if (!Number.isInteger(sinkPort) || sinkPort <= 0 || sinkPort > 0xffff) throw new Error(`forwarding-relay: bad sink port ${process.argv[2]}`);
let relayed = 0;
let sendErrors = 0;
const socket = createSocket('udp4');
socket.on('message', (bytes) => {
  relayed++;
  socket.send(bytes, sinkPort, '127.0.0.1');
});
// A failed send surfaces here (no per-datagram callback: the most minimal relay).
socket.on('error', () => sendErrors++);
await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));

serveCommands((command) => (command === 'usage' ? { ...usageNow(), relayed, sendErrors } : { error: `unknown command ${JSON.stringify(command)}` }));
process.stdout.write(`${JSON.stringify({ ready: true, port: socket.address().port })}\n`);
