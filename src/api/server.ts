/**
 * The node daemon's HTTP API: fastify with bearer-token authentication (and, with `tls`, HTTPS
 * with client X509-SVIDs: tls.ts), the daemon's policy hook on every route but health and the
 * OpenAPI document, JSON error bodies with stable codes (errors.ts), and Prometheus metrics from
 * a per-instance registry.
 */
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from 'fastify';
import { authenticateRequest, TokenAuthenticator, type ApiAction, type ApiAuthorize, type ApiOnDenied } from './auth.js';
import type { NodeBackend } from './backend.js';
import { ApiError, type ApiErrorCode } from './errors.js';
import { sseHeartbeatMsDefault, type SseStream } from './events.js';
import { createMetrics } from './metrics.js';
import { readOpenapiDocument } from './openapi.js';
import { registerRoutes } from './routes.js';
import { httpsServerOptions, presentedCertificate, type ApiTlsOptions } from './tls.js';

/** Largest request body accepted, in bytes: a send of 1024 payload bytes is about 1.4 KiB of JSON. */
export const requestBodyBytesMax = 4096;
/** Address the API listens on unless told otherwise: loopback only. */
export const apiHostDefault = '127.0.0.1';
/** Port the API listens on unless told otherwise (the CLI's default --api). */
export const apiPortDefault = 7480;
/** Longest part of an unknown URL echoed in a 404 message, in characters. */
export const notFoundUrlCharsMax = 200;

/** Options of buildApi. */
export interface ApiOptions {
  readonly backend: NodeBackend;
  /** The secret of the local admin token file; a request bearing it acts with role admin. */
  readonly adminToken: string;
  /** An optional second secret whose bearer acts with role viewer. */
  readonly viewerToken?: string;
  /** The policy decision for a caller and an action (the daemon plugs Cedar in here). */
  readonly authorize: ApiAuthorize;
  /** Told about every denial, after the 403 is decided; a throw here is logged, not answered. */
  readonly onDenied?: ApiOnDenied;
  /** Fastify's request log (pino to stdout). Default false. */
  readonly logger?: boolean;
  /** Also export prom-client's process metrics. Default false. */
  readonly processMetrics?: boolean;
  /** Time between heartbeat comments on event streams. Default sseHeartbeatMsDefault (15 s). */
  readonly sseHeartbeatMs?: number;
  /** Serve HTTPS with the node's SVID and accept client SVIDs (mTLS) besides bearer tokens. Default: plain HTTP. */
  readonly tls?: ApiTlsOptions;
}

/** Options of startApi: buildApi's plus where to listen. */
export interface StartApiOptions extends ApiOptions {
  /** Default apiHostDefault (127.0.0.1). */
  readonly host?: string;
  /** Default apiPortDefault (7480); 0 picks a free port. */
  readonly port?: number;
}

/** A listening API. */
export interface RunningApi {
  /** Base URL with the real port, e.g. http://127.0.0.1:7480, http://[::1]:7480 or (TLS) https://127.0.0.1:7480. */
  readonly address: string;
  readonly app: FastifyInstance;
  /** Serves `certificate` (a renewed SVID for the same key, DER) from the next TLS handshake on; without TLS, nothing. */
  renewCertificate(certificate: Uint8Array): void;
  /** Ends open event streams and stops listening. */
  close(): Promise<void>;
}

/** A route as registered: method and URL. */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
}

const routesByApp = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** The routes `app` registered, in registration order (for the OpenAPI drift test). */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return routesByApp.get(app) ?? [];
}

/** Builds the API (not listening; use inject() or startApi). Throws a RangeError naming a bad option. */
export function buildApi(options: ApiOptions): FastifyInstance {
  const authenticator = new TokenAuthenticator(options.adminToken, options.viewerToken);
  const sseHeartbeatMs = options.sseHeartbeatMs ?? sseHeartbeatMsDefault;
  if (!Number.isInteger(sseHeartbeatMs) || sseHeartbeatMs < 1) throw new RangeError(`buildApi: sseHeartbeatMs: expected a positive integer, got ${sseHeartbeatMs}`);
  const app = Fastify({
    // fastify types an https instance apart; its request and reply are the ones routes use.
    ...(options.tls === undefined ? {} : { https: httpsServerOptions(options.tls) as object }),
    logger: options.logger ?? false,
    bodyLimit: requestBodyBytesMax,
    exposeHeadRoutes: false,
    forceCloseConnections: 'idle',
    // Errors fastify raises before routing (an over-long path parameter, bad percent-encoding)
    // answer in the API's own format too.
    frameworkErrors: (error, _request, reply) => {
      // fastify types this reply with the route generics of no route; it is an ordinary reply.
      void (reply as unknown as FastifyReply).code(400).send(new ApiError('bad_request', `url: ${error.message}`).body());
    },
  });
  // Bodies are JSON only; fastify would otherwise hand text/plain bodies through as strings.
  app.removeContentTypeParser('text/plain');
  const routes: RegisteredRoute[] = [];
  routesByApp.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  app.addHook('onSend', async (_request, reply) => {
    // Node state is per-moment and some of it sensitive: never cached by anything in between.
    reply.header('cache-control', 'no-store');
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0]!.slice(0, notFoundUrlCharsMax);
    return reply.code(404).send(new ApiError('not_found', `no route ${request.method} ${path}`).body());
  });
  const streams = new Set<SseStream>();
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });
  let openapi: string | undefined;
  registerRoutes(app, {
    backend: options.backend,
    guard: (action) => guard(authenticator, options, action),
    metrics: createMetrics(options.backend, { processMetrics: options.processMetrics ?? false }),
    streams,
    sseHeartbeatMs,
    openapiDocument: () => (openapi ??= readOpenapiDocument()),
  });
  return app;
}

/** Builds the API and listens on host:port; resolves once it accepts connections. */
export async function startApi(options: StartApiOptions): Promise<RunningApi> {
  const app = buildApi(options);
  try {
    await app.listen({ host: options.host ?? apiHostDefault, port: options.port ?? apiPortDefault });
  } catch (error) {
    await app.close();
    throw error;
  }
  const tls = options.tls;
  return {
    address: baseUrl(app.server.address() as AddressInfo, tls !== undefined),
    app,
    renewCertificate: (certificate) => {
      if (tls !== undefined) (app.server as unknown as HttpsServer).setSecureContext(httpsServerOptions({ ...tls, certificate }));
    },
    close: () => app.close(),
  };
}

/** The base URL of a listening socket: http://host:port (https with `secure`), with an IPv6 host in brackets. */
export function baseUrl({ address, port, family }: AddressInfo, secure = false): string {
  return `${secure ? 'https' : 'http'}://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
}

/**
 * The onRequest hook of a protected route. It runs before the body is read, so an
 * unauthenticated or denied request costs no parsing. A client certificate is looked at first
 * (and verified on every request, so a revocation takes effect on a kept-alive connection too),
 * then the bearer token (authenticateRequest).
 */
function guard(authenticator: TokenAuthenticator, options: ApiOptions, action: ApiAction): onRequestHookHandler {
  const tls = options.tls !== undefined;
  return async (request) => {
    const certificate = tls ? presentedCertificate(request.raw.socket) : null;
    const caller = authenticateRequest(authenticator, { authorization: request.headers.authorization, certificate, tls }, options.tls?.verifyClient);
    const decision = options.authorize(caller, action);
    if (decision.allowed) return;
    const policyIds = [...decision.policyIds];
    try {
      options.onDenied?.(caller, action, policyIds);
    } catch (error) {
      request.log.error({ err: error }, 'onDenied failed');
    }
    throw new ApiError('forbidden', `policy denies ${action} to ${caller.id}`, { action, policyIds });
  };
}

/** Fastify's own client errors (body parsing, content type, size), by status. */
const clientErrorCodes: Readonly<Record<number, ApiErrorCode>> = { 413: 'payload_too_large', 415: 'unsupported_media_type' };

function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const apiError = toApiError(error, request.headers['content-type']);
  if (apiError.code === 'internal') request.log.error({ err: error }, 'request failed');
  return reply.code(apiError.status).send(apiError.body());
}

function toApiError(error: unknown, contentType: string | undefined): ApiError {
  if (error instanceof ApiError) return error;
  if (!isFastifyClientError(error)) return new ApiError('internal', 'internal error');
  const code = clientErrorCodes[error.statusCode] ?? 'bad_request';
  if (code === 'payload_too_large') return new ApiError(code, `body: expected at most ${requestBodyBytesMax} bytes (requestBodyBytesMax)`);
  if (code === 'unsupported_media_type') return new ApiError(code, `body: expected content-type application/json, got ${JSON.stringify(contentType ?? '')}`);
  return new ApiError(code, `body: ${error.message}`);
}

/**
 * Only errors fastify raised itself (codes FST_*) keep their 4xx status; anything thrown by
 * the backend is an internal error whatever status it claims, and its message is not shown.
 */
function isFastifyClientError(error: unknown): error is FastifyError & { statusCode: number } {
  const candidate = error as Partial<FastifyError> | null;
  const status = candidate?.statusCode;
  return typeof candidate?.code === 'string' && candidate.code.startsWith('FST_') && typeof status === 'number' && status >= 400 && status < 500;
}
