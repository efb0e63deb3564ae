/**
 * Server-sent events for GET /v1/events: the framing of one NodeEvent, and a per-client
 * stream with a bounded queue, so that one slow reader costs the node a bounded amount of
 * memory and is dropped rather than slowing everything else.
 */
import type { NodeEvent } from './backend.js';

/** Time between heartbeat comments on an idle stream, which keep proxies from closing it. */
export const sseHeartbeatMsDefault = 15_000;
/** Events a client may fall behind (queued here because its socket is full) before it is dropped. */
export const sseQueuedEventsMax = 1000;
/** Event streams open at once; one more is answered 503 too_many_streams. */
export const sseStreamsMax = 64;

/** Response headers of an event stream. */
export const sseHeaders: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  connection: 'keep-alive',
  // Tells nginx-style proxies not to buffer the stream.
  'x-accel-buffering': 'no',
};

/** One event in SSE framing: `event: <kind>`, `data: <json>`, blank line. JSON text has no raw newlines. */
export function formatSseEvent(event: NodeEvent): string {
  return `event: ${event.kind}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The SSE comment sent as a heartbeat. */
export const sseHeartbeat = ': heartbeat\n\n';

/** Where a stream writes: an http.ServerResponse in the server, a stub in tests. */
export interface SseSink {
  /** Writes a chunk; false when the sink's buffer is full and 'drain' will follow. */
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
  /** Closes the connection at once (used to drop a slow client). */
  destroy(): void;
  /** Ends the response cleanly (used on shutdown). */
  end(): void;
}

/**
 * One client's stream. Chunks go straight to the sink while it accepts them; once the sink
 * reports a full buffer they wait in a queue until 'drain'. A queue longer than `queuedMax`
 * means the client is too slow: it is dropped and `onClose` runs. Chunks sent before `open()`
 * are queued too, so events arriving between subscribe and the response head are kept.
 */
export class SseStream {
  readonly #sink: SseSink;
  readonly #queuedMax: number;
  readonly #queue: string[] = [];
  #state: 'pending' | 'open' | 'blocked' | 'closed' = 'pending';

  /** A stream writing to `sink`, not yet open. */
  constructor(sink: SseSink, queuedMax = sseQueuedEventsMax) {
    this.#sink = sink;
    this.#queuedMax = queuedMax;
  }

  /** 'pending' before open(), 'open' while writing through, 'blocked' while waiting for 'drain', 'closed' after a drop or end. */
  get state(): 'pending' | 'open' | 'blocked' | 'closed' {
    return this.#state;
  }

  /** Chunks waiting for the sink. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Starts writing: first a comment (so the client sees the response at once), then whatever queued. */
  open(): void {
    if (this.#state !== 'pending') return;
    this.#queue.unshift(': connected\n\n');
    this.#flush();
  }

  /** Sends one chunk, or queues it; drops the client when it is too far behind. */
  send(chunk: string): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'open') {
      this.#write(chunk);
      return;
    }
    this.#queue.push(chunk);
    if (this.#queue.length > this.#queuedMax) {
      this.#state = 'closed';
      this.#queue.length = 0;
      this.#sink.destroy();
    }
  }

  /** Ends the stream cleanly (server shutdown). */
  end(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#queue.length = 0;
    this.#sink.end();
  }

  /** Marks the stream closed without touching the sink (the connection has already closed). */
  detach(): void {
    this.#state = 'closed';
    this.#queue.length = 0;
  }

  #write(chunk: string): void {
    if (this.#sink.write(chunk)) return;
    this.#state = 'blocked';
    this.#sink.once('drain', () => this.#flush());
  }

  #flush(): void {
    if (this.#state === 'closed') return;
    this.#state = 'open';
    while (this.#queue.length > 0 && this.#state === 'open') this.#write(this.#queue.shift()!);
  }
}
