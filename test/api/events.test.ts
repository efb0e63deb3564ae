import { EventEmitter } from 'node:events';
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeEvent } from '../../src/api/backend.js';
import { SseStream, formatSseEvent, sseHeartbeat, sseQueuedEventsMax, sseStreamsMax, type SseSink } from '../../src/api/events.js';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { FakeBackend, peerA } from './fake-backend.js';
import { asAdmin, asViewer, testApi, testOptions } from './helpers.js';

const at = '2025-01-01T00:00:00.000Z';
const up: NodeEvent = { kind: 'neighbourUp', at, link: 1, peer: peerA };
const datagram: NodeEvent = { kind: 'datagram', at, src: peerA, id: 9, payloadBase64: 'aGk=' };
const lifecycle: NodeEvent = { kind: 'lifecycle', at, state: 'draining', detail: 'operator asked' };

/** A client of one event stream: what arrived so far, and helpers to wait for more. */
interface StreamClient {
  readonly request: ClientRequest;
  readonly response: IncomingMessage;
  text(): string;
  /** Resolves when the received text contains `needle` (the test's timeout bounds the wait). */
  waitFor(needle: string): Promise<void>;
  /** Resolves when the server closed the connection. */
  closed: Promise<void>;
}

function openStream(address: string, path = '/v1/events', headers: Record<string, string> = asAdmin): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const request = get(`${address}${path}`, { headers }, (response) => {
      let text = '';
      const changed = new EventEmitter();
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
        changed.emit('data');
      });
      const closed = new Promise<void>((done) => {
        response.once('close', () => done());
        response.once('error', () => done());
      });
      const waitFor = (needle: string): Promise<void> =>
        new Promise((done) => {
          const check = (): void => {
            if (!text.includes(needle)) return;
            changed.off('data', check);
            done();
          };
          changed.on('data', check);
          check();
        });
      resolve({ request, response, text: () => text, waitFor, closed });
    });
    request.on('error', reject);
  });
}

/** Waits until `condition` holds, checking after each turn of the event loop. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('GET /v1/events over a real socket', () => {
  let running: RunningApi | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  async function start(backend = new FakeBackend(), sseHeartbeatMs = 60_000): Promise<{ backend: FakeBackend; address: string }> {
    running = await startApi({ ...testOptions(backend, { sseHeartbeatMs }), port: 0 });
    return { backend, address: running.address };
  }

  it('streams each event as `event: <kind>` and `data: <json>`, and unsubscribes when the client leaves', async () => {
    const { backend, address } = await start();
    const client = await openStream(address, '/v1/events', asViewer);
    expect(client.response.statusCode).toBe(200);
    expect(client.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.response.headers['cache-control']).toBe('no-store');
    await client.waitFor(': connected\n\n');
    expect(backend.listeners.size).toBe(1);
    backend.emit(up);
    backend.emit(datagram);
    await client.waitFor('event: datagram');
    expect(client.text()).toBe(`: connected\n\nevent: neighbourUp\ndata: ${JSON.stringify(up)}\n\nevent: datagram\ndata: ${JSON.stringify(datagram)}\n\n`);
    client.request.destroy();
    await until(() => backend.listeners.size === 0);
    // An event after the client left goes nowhere and breaks nothing.
    backend.emit(up);
    expect((await fetch(`${address}/health/live`)).status).toBe(200);
  });

  it('streams only the kinds asked for', async () => {
    const { backend, address } = await start();
    const client = await openStream(address, '/v1/events?kinds=lifecycle,datagram');
    await client.waitFor(': connected');
    backend.emit(up);
    backend.emit(lifecycle);
    backend.emit(datagram);
    await client.waitFor('event: datagram');
    expect(client.text()).toBe(`: connected\n\n${formatSseEvent(lifecycle)}${formatSseEvent(datagram)}`);
    client.request.destroy();
  });

  it('sends heartbeat comments while idle', async () => {
    const { address } = await start(new FakeBackend(), 5);
    const client = await openStream(address);
    await client.waitFor(sseHeartbeat);
    expect(client.text().startsWith(': connected\n\n: heartbeat\n\n')).toBe(true);
    client.request.destroy();
  });

  it('drops a client that falls more than sseQueuedEventsMax events behind', async () => {
    const { backend, address } = await start();
    const client = await openStream(address);
    await client.waitFor(': connected');
    client.response.pause();
    // Emitted in one synchronous burst, these overflow the socket buffers and then the queue.
    const big: NodeEvent = { kind: 'lifecycle', at, state: 'running', detail: 'x'.repeat(8192) };
    for (let i = 0; i < sseQueuedEventsMax * 3; i++) backend.emit(big);
    await until(() => backend.listeners.size === 0);
    client.response.resume();
    await client.closed;
    expect((await fetch(`${address}/health/live`)).status).toBe(200);
  });

  it('unsubscribes a client whose connection closed before the stream started', async () => {
    const backend = new FakeBackend();
    let serverSocket: Socket | undefined;
    running = await startApi({
      ...testOptions(backend, {
        authorize: () => {
          // Closes the connection between authentication and the handler, as a client that
          // gives up at once would.
          serverSocket!.destroy();
          return { allowed: true, policyIds: [] };
        },
      }),
      port: 0,
    });
    running.app.server.on('connection', (socket: Socket) => (serverSocket = socket));
    await expect(openStream(running.address)).rejects.toThrow();
    await until(() => backend.calls.some((c) => c.method === 'subscribe') && backend.listeners.size === 0);
    expect((await fetch(`${running.address}/health/live`)).status).toBe(200);
  });

  it('survives an unsubscribe that throws', async () => {
    const { backend, address } = await start();
    let unsubscribed = false;
    backend.subscribe = () => () => {
      unsubscribed = true;
      throw new Error('already gone');
    };
    const client = await openStream(address);
    await client.waitFor(': connected');
    client.request.destroy();
    await until(() => unsubscribed);
    expect((await fetch(`${address}/health/live`)).status).toBe(200);
  });

  it('ends open streams when the server closes', async () => {
    const { backend, address } = await start();
    const client = await openStream(address);
    await client.waitFor(': connected');
    await running!.close();
    running = undefined;
    await client.closed;
    expect(backend.listeners.size).toBe(0);
  });

  it('answers 503 too_many_streams beyond sseStreamsMax open streams', async () => {
    const { backend, address } = await start();
    const clients = await Promise.all(Array.from({ length: sseStreamsMax }, () => openStream(address)));
    await Promise.all(clients.map((c) => c.waitFor(': connected')));
    const refused = await fetch(`${address}/v1/events`, { headers: asAdmin });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: 'too_many_streams', message: `at most ${sseStreamsMax} event streams (sseStreamsMax) may be open` });
    for (const client of clients) client.request.destroy();
    await until(() => backend.listeners.size === 0);
  });
});

describe('GET /v1/events errors', () => {
  it('answers 401 without a token, 400 naming the query field, and 500 when subscribe throws', async () => {
    const { app, backend } = testApi();
    expect((await app.inject({ url: '/v1/events' })).statusCode).toBe(401);
    const badKind = await app.inject({ url: '/v1/events?kinds=datagram,gossip', headers: asAdmin });
    expect([badKind.statusCode, badKind.json()]).toEqual([
      400,
      { error: 'bad_request', message: 'query.kinds: expected kinds among datagram,neighbourUp,neighbourDown,sessionUp,policyDeny,lifecycle, got "gossip"' },
    ]);
    const twice = await app.inject({ url: '/v1/events?kinds=datagram&kinds=lifecycle', headers: asAdmin });
    expect(twice.json()).toEqual({ error: 'bad_request', message: 'query.kinds: expected a comma-separated list of event kinds' });
    const unknown = await app.inject({ url: '/v1/events?since=3', headers: asAdmin });
    expect(unknown.json()).toEqual({ error: 'bad_request', message: 'query.since: unknown field' });
    backend.failing.add('subscribe');
    const failed = await app.inject({ url: '/v1/events', headers: asAdmin });
    expect([failed.statusCode, failed.json()]).toEqual([500, { error: 'internal', message: 'internal error' }]);
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
  });
});

/** A sink that accepts `room` chunks, then reports full until `drain()` is called. */
class StubSink extends EventEmitter implements SseSink {
  readonly written: string[] = [];
  room: number;
  destroyed = false;
  ended = false;

  constructor(room: number) {
    super();
    this.room = room;
  }

  write(chunk: string): boolean {
    this.written.push(chunk);
    this.room--;
    return this.room > 0;
  }

  drain(room: number): void {
    this.room = room;
    this.emit('drain');
  }

  destroy(): void {
    this.destroyed = true;
  }

  end(): void {
    this.ended = true;
  }
}

describe('SseStream', () => {
  it('queues before open, writes through while the sink accepts, queues while it is full and flushes on drain', () => {
    const sink = new StubSink(3);
    const stream = new SseStream(sink, 5);
    stream.send('a');
    expect([stream.state, stream.queued, sink.written]).toEqual(['pending', 1, []]);
    stream.open();
    stream.open();
    expect(sink.written).toEqual([': connected\n\n', 'a']);
    expect(stream.state).toBe('open');
    stream.send('b');
    expect(stream.state).toBe('blocked');
    stream.send('c');
    stream.send('d');
    expect(stream.queued).toBe(2);
    sink.drain(2);
    expect(sink.written).toEqual([': connected\n\n', 'a', 'b', 'c', 'd']);
    expect([stream.state, stream.queued]).toEqual(['blocked', 0]);
    sink.drain(10);
    expect(stream.state).toBe('open');
  });

  it('drops the client when more than queuedMax chunks wait, and ignores later sends', () => {
    const sink = new StubSink(1);
    const stream = new SseStream(sink, 2);
    stream.open();
    for (const chunk of ['a', 'b']) stream.send(chunk);
    expect([sink.destroyed, stream.queued]).toEqual([false, 2]);
    stream.send('c');
    expect([sink.destroyed, stream.state, stream.queued]).toEqual([true, 'closed', 0]);
    stream.send('e');
    sink.drain(10);
    stream.end();
    expect(sink.ended).toBe(false);
    expect(sink.written).toEqual([': connected\n\n']);
  });

  it('ends cleanly, and a detached stream neither writes nor ends', () => {
    const sink = new StubSink(10);
    const stream = new SseStream(sink);
    stream.open();
    stream.end();
    stream.end();
    expect(sink.ended).toBe(true);
    const other = new StubSink(10);
    const detached = new SseStream(other);
    detached.detach();
    detached.open();
    detached.send('x');
    detached.end();
    expect([other.written, other.ended]).toEqual([[], false]);
  });
});
