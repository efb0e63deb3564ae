import { createSocket } from 'node:dgram';

/**
 * A plain UDP flow for the daemon-recovery benchmark's kernel-routed runs (babeld), started
 * inside a namespace with `ip netns exec`:
 *
 *   netns-pinger.ts send <host> <port> <flow> <intervalMs> <limitS>   one datagram every intervalMs
 *   netns-pinger.ts recv <port>                                        one line per datagram
 *
 * A datagram carries its flow, its sequence number and its send time; the receiver prints
 * `<flow> <seq> <sentNs> <receivedNs>`. Times are process.hrtime (CLOCK_MONOTONIC), which every
 * process of the machine shares, so the benchmark compares them with its own fault instants.
 * The sender stops by itself after limitS: a forgotten sender cannot run for ever.
 */

const datagramBytes = 13;
const limitSMax = 600;

function send(host: string, port: number, flow: number, intervalMs: number, limitS: number): void {
  if (!(intervalMs >= 1 && limitS > 0 && limitS <= limitSMax && flow >= 0 && flow < 256)) throw new Error(`netns-pinger: bad send arguments ${host} ${port} ${flow} ${intervalMs} ${limitS}`);
  const socket = createSocket('udp4');
  // A send with no route fails (EHOSTUNREACH, ENETUNREACH): the packet counts as lost.
  socket.on('error', () => undefined);
  let seq = 0;
  const timer = setInterval(() => {
    const bytes = Buffer.alloc(datagramBytes);
    bytes[0] = flow;
    bytes.writeUInt32BE(seq++, 1);
    bytes.writeBigUInt64BE(process.hrtime.bigint(), 5);
    socket.send(bytes, port, host, () => undefined);
  }, intervalMs);
  setTimeout(() => {
    clearInterval(timer);
    socket.close();
  }, limitS * 1000);
}

function receive(port: number): void {
  const socket = createSocket('udp4');
  socket.on('message', (bytes) => {
    if (bytes.length !== datagramBytes) return;
    process.stdout.write(`${bytes[0]} ${bytes.readUInt32BE(1)} ${bytes.readBigUInt64BE(5)} ${process.hrtime.bigint()}\n`);
  });
  socket.bind(port, '0.0.0.0', () => process.stdout.write('listening\n'));
  // A receiver its benchmark forgot (killed without cleaning up) goes away by itself.
  setTimeout(() => socket.close(), limitSMax * 1000);
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'send') send(args[0]!, Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4]));
else if (mode === 'recv') receive(Number(args[0]));
else throw new Error('usage: netns-pinger.ts send <host> <port> <flow> <intervalMs> <limitS> | recv <port>');
