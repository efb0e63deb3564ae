/**
 * The API's routes. Each route names the ApiAction it needs (checked by `guard` before the
 * body is read) or is public; handlers only parse input and call the backend.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { ApiAction } from './auth.js';
import type { NodeBackend } from './backend.js';
import { ApiError } from './errors.js';
import { SseStream, formatSseEvent, sseHeaders, sseHeartbeat, sseStreamsMax } from './events.js';
import type { NodeMetrics } from './metrics.js';
import { auditQuery, eventKinds, eventsQuery, linkParams, parseInput, pingBody, sendBody, tracerouteBody } from './schemas.js';

/** What the routes need from the server. */
export interface RouteContext {
  readonly backend: NodeBackend;
  /** An onRequest hook that authenticates the caller and asks the policy about `action`. */
  readonly guard: (action: ApiAction) => onRequestHookHandler;
  readonly metrics: NodeMetrics;
  /** The open event streams, ended when the server closes. */
  readonly streams: Set<SseStream>;
  readonly sseHeartbeatMs: number;
  /** The OpenAPI document's text (read on first use). */
  readonly openapiDocument: () => string;
}

/** Registers every route of the API on `app`. */
export function registerRoutes(app: FastifyInstance, context: RouteContext): void {
  registerPublicRoutes(app, context);
  registerReadRoutes(app, context);
  registerActionRoutes(app, context);
  registerLinkRoutes(app, context);
}

/**
 * Liveness and readiness answer without a token: orchestrators probe them without
 * credentials, and they reveal only "up" and "ready". The OpenAPI document is public too: it
 * is the same text as in the source repository.
 */
function registerPublicRoutes(app: FastifyInstance, { backend, openapiDocument }: RouteContext): void {
  app.get('/health/live', async () => ({ status: 'live' }));
  app.get('/health/ready', async (_request, reply) => {
    const ready = backend.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready' });
  });
  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(openapiDocument()));
}

function registerReadRoutes(app: FastifyInstance, { backend, guard, metrics }: RouteContext): void {
  const read = { onRequest: guard('apiRead') };
  app.get('/metrics', read, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  app.get('/v1/node', read, async () => backend.info());
  app.get('/v1/neighbours', read, async () => backend.neighbours());
  app.get('/v1/routes', read, async () => backend.routes());
  app.get('/v1/audit', read, async (request) => {
    const { limit, since } = parseInput(auditQuery, 'query', request.query);
    return backend.audit(since === undefined ? { limit } : { limit, since });
  });
  app.get('/v1/incidents', read, async () => backend.incidents());
  app.get('/v1/actions', read, async (request) => {
    const { limit, since } = parseInput(auditQuery, 'query', request.query);
    return backend.actions(since === undefined ? { limit } : { limit, since });
  });
}

function registerActionRoutes(app: FastifyInstance, context: RouteContext): void {
  const { backend, guard } = context;
  app.post('/v1/ping', { onRequest: guard('apiPing') }, async (request) => {
    const { dst, ...options } = parseInput(pingBody, 'body', request.body);
    return backend.ping(dst, options);
  });
  app.post('/v1/traceroute', { onRequest: guard('apiPing') }, async (request) => {
    const { dst, ...options } = parseInput(tracerouteBody, 'body', request.body);
    return backend.traceroute(dst, options);
  });
  app.post('/v1/send', { onRequest: guard('apiSend') }, async (request, reply) => {
    const { dst, payloadBase64 } = parseInput(sendBody, 'body', request.body);
    const result = backend.send(dst, new Uint8Array(Buffer.from(payloadBase64, 'base64')));
    return reply.code(202).send(result);
  });
  app.post('/v1/drain', { onRequest: guard('apiDrain') }, async (request, reply) => {
    // Draining ends with the process leaving, so the answer cannot wait for it; a failure on
    // the way is logged. A synchronous throw still reaches the error handler (500).
    backend.drain().catch((error: unknown) => request.log.error({ err: error }, 'drain failed'));
    return reply.code(202).send({ status: 'draining' });
  });
  app.get('/v1/events', { onRequest: guard('apiEvents') }, (request, reply) => streamEvents(context, request, reply));
}

/**
 * An operator takes a link down (everything on it is dropped, so the neighbour sees a cut) or
 * up again. Both are idempotent: taking a disabled link down again answers the same.
 */
function registerLinkRoutes(app: FastifyInstance, { backend, guard }: RouteContext): void {
  for (const [verb, disabled] of [['down', true], ['up', false]] as const) {
    app.post(`/v1/neighbours/:link/${verb}`, { onRequest: guard('apiLinks') }, async (request) => {
      const { link } = parseInput(linkParams, 'params', request.params);
      if (!backend.setLinkDisabled(link, disabled)) throw new ApiError('not_found', `no link ${link}`);
      return { link, disabled };
    });
  }
}

async function streamEvents(context: RouteContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const query = parseInput(eventsQuery, 'query', request.query);
  if (context.streams.size >= sseStreamsMax) throw new ApiError('too_many_streams', `at most ${sseStreamsMax} event streams (sseStreamsMax) may be open`);
  const kinds = new Set<string>(query.kinds?.split(',') ?? eventKinds);
  const response = reply.raw;
  const stream = new SseStream(response);
  let unsubscribe = (): void => {};
  let heartbeat: NodeJS.Timeout | undefined = undefined;
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    stream.detach();
    clearInterval(heartbeat);
    context.streams.delete(stream);
    try {
      unsubscribe();
    } catch (error) {
      request.log.error({ err: error }, 'unsubscribe failed');
    }
  };
  response.once('close', cleanup);
  response.on('error', (error) => request.log.debug({ err: error }, 'event stream error'));
  // Subscribing before hijacking lets a throwing subscribe() become an ordinary 500.
  unsubscribe = context.backend.subscribe((event) => {
    if (kinds.has(event.kind)) stream.send(formatSseEvent(event));
  });
  reply.hijack();
  response.writeHead(200, sseHeaders);
  heartbeat = setInterval(() => stream.send(sseHeartbeat), context.sseHeartbeatMs);
  context.streams.add(stream);
  stream.open();
  // A client that left before this point will not emit 'close' again.
  if (request.raw.socket.destroyed) cleanup();
}
