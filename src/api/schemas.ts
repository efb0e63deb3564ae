/**
 * Request bodies, query strings and path parameters of the API, parsed strictly at the boundary with zod: an
 * unknown field, a wrong type or a value out of range is a 400 whose message names the field
 * (`body.dst: expected 8 lower-case hex digits`). openapi/openapi.json carries the same
 * schemas (test/api/openapi.test.ts compares them with z.toJSONSchema).
 */
import { z } from 'zod';
import type { NodeEvent } from './backend.js';
import { ApiError } from './errors.js';

/** Largest payload of POST /v1/send, in bytes after base64 decoding. */
export const sendPayloadBytesMax = 1024;
/** Fewest echo requests of one ping (POST /v1/ping). */
export const pingCountMin = 1;
/** Most echo requests of one ping. */
export const pingCountMax = 100;
/** Echo requests of a ping when `count` is absent. */
export const pingCountDefault = 3;
/** Shortest time between echo requests. */
export const pingIntervalMsMin = 10;
/** Longest time between echo requests. */
export const pingIntervalMsMax = 10_000;
/** Time between echo requests when `intervalMs` is absent. */
export const pingIntervalMsDefault = 1000;
/** Shortest wait for one reply (ping and traceroute). */
export const replyTimeoutMsMin = 10;
/** Longest wait for one reply. */
export const replyTimeoutMsMax = 30_000;
/** Wait for one reply when `timeoutMs` is absent. */
export const replyTimeoutMsDefault = 1000;
/** Smallest hop limit of a traceroute (POST /v1/traceroute). */
export const traceMaxHopsMin = 1;
/** Largest hop limit of a traceroute. */
export const traceMaxHopsMax = 64;
/** Hop limit of a traceroute when `maxHops` is absent. */
export const traceMaxHopsDefault = 16;
/** Fewest records one GET /v1/audit returns when asked (`limit`). */
export const auditLimitMin = 1;
/** Most records one GET /v1/audit returns (one JSON answer of bounded size; the log itself keeps far more). */
export const auditLimitMax = 1000;
/** Records GET /v1/audit returns when `limit` is absent. */
export const auditLimitDefault = 100;

/** Every NodeEvent kind; the Record type makes the compiler flag a kind added to NodeEvent but not here. */
const eventKindSet: Record<NodeEvent['kind'], true> = {
  datagram: true,
  neighbourUp: true,
  neighbourDown: true,
  sessionUp: true,
  policyDeny: true,
  lifecycle: true,
};
/** The kinds GET /v1/events can stream, in a stable order. */
export const eventKinds = Object.keys(eventKindSet) as readonly NodeEvent['kind'][];

const nodeIdMessage = 'expected 8 lower-case hex digits, not 00000000';

const nodeIdText = z
  .string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a string') })
  .regex(/^(?!0{8})[0-9a-f]{8}$/, { error: nodeIdMessage })
  .meta({ description: 'Node ID: 8 lower-case hex digits, not 00000000' });

function integerIn(min: number, max: number, fallback: number, description: string) {
  const error = `expected an integer in ${min}..${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error }).default(fallback).meta({ description });
}

const base64Text = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const payloadBase64 = z
  .string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a string') })
  .superRefine((text, context) => {
    if (!base64Text.test(text)) {
      context.addIssue({ code: 'custom', message: 'expected standard base64 with padding' });
      return;
    }
    const bytes = Buffer.from(text, 'base64');
    // Canonical encodings only: the unused low bits of the last character must be zero, so
    // that one payload has one text.
    if (bytes.toString('base64') !== text) context.addIssue({ code: 'custom', message: 'expected canonical base64 (unused bits zero)' });
    else if (bytes.length > sendPayloadBytesMax) {
      context.addIssue({ code: 'custom', message: `expected at most ${sendPayloadBytesMax} bytes (sendPayloadBytesMax) after decoding, got ${bytes.length}` });
    }
  })
  .meta({
    description: `Payload, standard base64 with padding, at most ${sendPayloadBytesMax} bytes decoded`,
    contentEncoding: 'base64',
    maxLength: Math.ceil(sendPayloadBytesMax / 3) * 4,
  });

/** Body of POST /v1/ping. */
export const pingBody = z.strictObject({
  dst: nodeIdText,
  count: integerIn(pingCountMin, pingCountMax, pingCountDefault, 'Echo requests to send'),
  intervalMs: integerIn(pingIntervalMsMin, pingIntervalMsMax, pingIntervalMsDefault, 'Time between echo requests, ms'),
  timeoutMs: integerIn(replyTimeoutMsMin, replyTimeoutMsMax, replyTimeoutMsDefault, 'Wait for each reply, ms'),
});

/** Body of POST /v1/traceroute. */
export const tracerouteBody = z.strictObject({
  dst: nodeIdText,
  maxHops: integerIn(traceMaxHopsMin, traceMaxHopsMax, traceMaxHopsDefault, 'Largest hop limit probed'),
  timeoutMs: integerIn(replyTimeoutMsMin, replyTimeoutMsMax, replyTimeoutMsDefault, 'Wait for each hop, ms'),
});

/** Body of POST /v1/send. */
export const sendBody = z.strictObject({ dst: nodeIdText, payloadBase64 });

/** Query of GET /v1/events: an optional comma-separated list of kinds to stream (all when absent). */
export const eventsQuery = z.strictObject({
  kinds: z
    .string({ error: 'expected a comma-separated list of event kinds' })
    .superRefine((text, context) => {
      const unknown = text.split(',').filter((kind) => !(kind in eventKindSet));
      if (unknown.length > 0) context.addIssue({ code: 'custom', message: `expected kinds among ${eventKinds.join(',')}, got ${JSON.stringify(unknown[0])}` });
    })
    .optional()
    .meta({ description: `Comma-separated event kinds to stream: ${eventKinds.join(', ')}` }),
});

/** What `since` of GET /v1/audit accepts, for messages here and in the CLI. */
export const isoDateTimeMessage = 'expected an ISO 8601 date-time with seconds and a time zone, e.g. 2025-01-01T00:00:00Z';

/**
 * An RFC 3339 date-time (seconds required; `Z` or an offset), normalised to UTC as
 * Date#toISOString writes it so that the backend sees one text per instant. Without a time
 * zone the instant would depend on the node's local zone, so that is refused.
 */
export const isoDateTime = z
  .iso.datetime({ offset: true, error: isoDateTimeMessage })
  .transform((text) => new Date(Date.parse(text)).toISOString());

const auditLimitMessage = `expected an integer in ${auditLimitMin}..${auditLimitMax}`;

/**
 * Query of GET /v1/audit. Query values arrive as text, so `limit` is parsed strictly here: plain
 * decimal digits without sign, exponent or leading zero, in auditLimitMin..auditLimitMax.
 */
export const auditQuery = z.strictObject({
  limit: z
    .string({ error: auditLimitMessage })
    .regex(/^[1-9][0-9]*$/, { error: auditLimitMessage, abort: true })
    .refine((text) => Number(text) >= auditLimitMin && Number(text) <= auditLimitMax, { error: auditLimitMessage })
    .transform(Number)
    .prefault(String(auditLimitDefault))
    .meta({ description: `Most records to return, newest first (${auditLimitMin}..${auditLimitMax})` }),
  since: isoDateTime.optional().meta({ description: 'Only records at or after this time: an ISO 8601 date-time with seconds and a time zone' }),
});

/**
 * Path parameters of POST /v1/neighbours/{link}/down and /up: the link number as GET
 * /v1/neighbours shows it. Only plain decimal digits are accepted (no sign, exponent or
 * leading zero), so that one link has one URL, and only values a double holds exactly.
 */
export const linkParams = z.strictObject({
  link: z
    .string({ error: 'expected a positive integer' })
    .regex(/^[1-9][0-9]*$/, { error: 'expected a positive integer', abort: true })
    .refine((text) => Number.isSafeInteger(Number(text)), { error: `expected at most ${Number.MAX_SAFE_INTEGER}` })
    .transform(Number)
    .meta({ description: 'Link number, as in GET /v1/neighbours' }),
});

/** Parses `value` with `schema`; throws ApiError 'bad_request' naming every failing field as `<where>.<path>`. */
export function parseInput<T extends z.ZodType>(schema: T, where: 'body' | 'query' | 'params', value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ApiError('bad_request', result.error.issues.map((issue) => describeIssue(where, issue)).join('; '));
}

function describeIssue(where: string, issue: z.core.$ZodIssue): string {
  const path = [where, ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${path}.${key}: unknown field`).join('; ');
  if (issue.path.length === 0 && issue.code === 'invalid_type') return `${path}: expected a JSON object`;
  return `${path}: ${issue.message}`;
}
