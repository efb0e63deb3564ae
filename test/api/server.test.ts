import { afterEach, describe, expect, it } from 'vitest';
import { TokenAuthenticator, adminCallerId, authorizationHeaderCharsMax, viewerCallerId } from '../../src/api/auth.js';
import { ApiError, isApiError } from '../../src/api/errors.js';
import Fastify from 'fastify';
import { baseUrl, buildApi, registeredRoutes, notFoundUrlCharsMax, requestBodyBytesMax, startApi, type RunningApi } from '../../src/api/server.js';
import { auditLimitDefault, auditLimitMax, isoDateTimeMessage, sendPayloadBytesMax } from '../../src/api/schemas.js';
import { FakeBackend, adminToken, peerA, peerB, selfId, silentId, viewerToken } from './fake-backend.js';
import { asAdmin, asViewer, testApi, testOptions, viewerPolicyId } from './helpers.js';

const post = (url: string, payload: unknown, headers: Record<string, string> = asAdmin) => ({ method: 'POST' as const, url, payload: payload as object, headers });

describe('health routes need no token', () => {
  it('answers live, ready and not ready', async () => {
    const { app, backend } = testApi();
    expect((await app.inject({ url: '/health/live' })).json()).toEqual({ status: 'live' });
    const ready = await app.inject({ url: '/health/ready' });
    expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ready' }]);
    backend.isReady = false;
    const notReady = await app.inject({ url: '/health/ready' });
    expect([notReady.statusCode, notReady.json()]).toEqual([503, { status: 'not_ready' }]);
  });

  it('answers 500 when ready() throws', async () => {
    const { app, backend } = testApi();
    backend.failing.add('ready');
    const response = await app.inject({ url: '/health/ready' });
    expect([response.statusCode, response.json()]).toEqual([500, { error: 'internal', message: 'internal error' }]);
  });
});

describe('read routes', () => {
  it('return the backend values as JSON, marked no-store', async () => {
    const { app, backend } = testApi();
    const node = await app.inject({ url: '/v1/node', headers: asAdmin });
    expect(node.statusCode).toBe(200);
    expect(node.json()).toEqual(backend.nodeInfo);
    expect(node.headers['cache-control']).toBe('no-store');
    expect((await app.inject({ url: '/v1/neighbours', headers: asAdmin })).json()).toEqual(backend.neighbourList);
    expect((await app.inject({ url: '/v1/routes', headers: asViewer })).json()).toEqual(backend.routeList);
  });

  it('ask the policy for the action of each route, with the caller of the token', async () => {
    const { app, decisions } = testApi();
    const cases: [string, string, unknown, string][] = [
      ['GET', '/metrics', undefined, 'apiRead'],
      ['GET', '/v1/node', undefined, 'apiRead'],
      ['GET', '/v1/neighbours', undefined, 'apiRead'],
      ['GET', '/v1/routes', undefined, 'apiRead'],
      ['GET', '/v1/audit', undefined, 'apiRead'],
      ['GET', '/v1/incidents', undefined, 'apiRead'],
      ['GET', '/v1/actions', undefined, 'apiRead'],
      ['POST', '/v1/ping', { dst: peerA, count: 1 }, 'apiPing'],
      ['POST', '/v1/traceroute', { dst: peerA }, 'apiPing'],
      ['POST', '/v1/send', { dst: peerA, payloadBase64: '' }, 'apiSend'],
      ['POST', '/v1/drain', undefined, 'apiDrain'],
      ['POST', '/v1/neighbours/1/down', undefined, 'apiLinks'],
      ['POST', '/v1/neighbours/1/up', undefined, 'apiLinks'],
    ];
    for (const [method, url, payload, action] of cases) {
      decisions.length = 0;
      const response = await app.inject({ method: method as 'GET' | 'POST', url, headers: asAdmin, ...(payload === undefined ? {} : { payload: payload as object }) });
      expect(response.statusCode, url).toBeLessThan(300);
      expect(decisions, url).toEqual([{ caller: { kind: 'operator', role: 'admin', id: adminCallerId }, action }]);
    }
  });
});

describe('authentication', () => {
  it('answers 401 without a token, with a malformed header and with a wrong token, before calling the backend', async () => {
    const { app, backend, decisions } = testApi();
    const cases: [Record<string, string>, string][] = [
      [{}, 'missing Authorization header: expected "Bearer <token>"'],
      [{ authorization: '' }, 'missing Authorization header: expected "Bearer <token>"'],
      [{ authorization: `Basic ${adminToken}` }, 'malformed Authorization header: expected "Bearer <token>"'],
      [{ authorization: 'Bearer' }, 'malformed Authorization header: expected "Bearer <token>"'],
      [{ authorization: `Bearer ${'x'.repeat(authorizationHeaderCharsMax)}` }, 'malformed Authorization header: expected "Bearer <token>"'],
      [{ authorization: `Bearer ${adminToken}x` }, 'unknown token'],
      [{ authorization: 'Bearer wrong-token-0123456789' }, 'unknown token'],
    ];
    for (const [headers, message] of cases) {
      for (const request of [{ url: '/v1/node', headers }, post('/v1/ping', { dst: peerA }, headers), { url: '/metrics', headers }]) {
        const response = await app.inject(request);
        expect(response.statusCode).toBe(401);
        expect(response.json()).toEqual({ error: 'unauthorized', message });
      }
    }
    expect(backend.calls).toEqual([]);
    expect(decisions).toEqual([]);
  });

  it('checks tokens in TokenAuthenticator: admin, viewer, none configured for viewer', () => {
    const both = new TokenAuthenticator(adminToken, viewerToken);
    expect(both.authenticate(`Bearer ${adminToken}`)).toEqual({ kind: 'operator', role: 'admin', id: adminCallerId });
    expect(both.authenticate(`Bearer ${viewerToken}`)).toEqual({ kind: 'operator', role: 'viewer', id: viewerCallerId });
    // The scheme name is case-insensitive (RFC 9110); the token is not.
    expect(both.authenticate(`bearer ${adminToken}`).role).toBe('admin');
    expect(() => both.authenticate(`Bearer ${adminToken.toUpperCase()}`)).toThrow('unknown token');
    const adminOnly = new TokenAuthenticator(adminToken);
    expect(() => adminOnly.authenticate(`Bearer ${viewerToken}`)).toThrow(ApiError);
    try {
      adminOnly.authenticate(undefined);
    } catch (error) {
      expect(isApiError(error, 'unauthorized')).toBe(true);
      expect(isApiError(error, 'forbidden')).toBe(false);
      expect((error as ApiError).status).toBe(401);
    }
  });

  it('refuses bad token options with a RangeError naming the option', () => {
    const backend = new FakeBackend();
    expect(() => buildApi({ ...testOptions(backend), adminToken: 'short' })).toThrow(/adminToken: expected at least 16 printable ASCII/);
    expect(() => buildApi({ ...testOptions(backend), adminToken: 'has a space in the middle' })).toThrow(/adminToken/);
    expect(() => buildApi({ ...testOptions(backend), viewerToken: 'short' })).toThrow(/viewerToken: expected at least 16/);
    expect(() => buildApi({ ...testOptions(backend), viewerToken: adminToken })).toThrow(/viewerToken: must differ from adminToken/);
    expect(() => buildApi({ ...testOptions(backend), sseHeartbeatMs: 0 })).toThrow(/sseHeartbeatMs: expected a positive integer, got 0/);
    expect(() => buildApi({ ...testOptions(backend), sseHeartbeatMs: 1.5 })).toThrow(/sseHeartbeatMs: expected a positive integer, got 1.5/);
  });
});

describe('authorization', () => {
  it('answers 403 with the action and policy ids when the policy denies, and tells onDenied', async () => {
    const { app, backend, denials } = testApi();
    const cases: [ReturnType<typeof post>, string][] = [
      [post('/v1/ping', { dst: peerA }, asViewer), 'apiPing'],
      [post('/v1/traceroute', { dst: peerA }, asViewer), 'apiPing'],
      [post('/v1/send', { dst: peerA, payloadBase64: 'AA==' }, asViewer), 'apiSend'],
      [post('/v1/drain', undefined, asViewer), 'apiDrain'],
      [post('/v1/neighbours/1/down', undefined, asViewer), 'apiLinks'],
      [post('/v1/neighbours/1/up', undefined, asViewer), 'apiLinks'],
    ];
    for (const [request, action] of cases) {
      const response = await app.inject(request);
      expect(response.statusCode).toBe(403);
      expect(response.json()).toEqual({ error: 'forbidden', message: `policy denies ${action} to ${viewerCallerId}`, action, policyIds: [viewerPolicyId] });
    }
    expect(denials.map((d) => [d.caller, d.action, d.policyIds])).toEqual(cases.map(([, action]) => [{ kind: 'operator', role: 'viewer', id: viewerCallerId }, action, [viewerPolicyId]]));
    expect(backend.calls).toEqual([]);
  });

  it('still answers 403 when onDenied throws, and 500 when authorize throws', async () => {
    const throwing = testApi({
      onDenied: () => {
        throw new Error('audit log full');
      },
    });
    expect((await throwing.app.inject(post('/v1/drain', undefined, asViewer))).statusCode).toBe(403);
    const broken = testApi({
      authorize: () => {
        throw new Error('policy engine down');
      },
    });
    const response = await broken.app.inject({ url: '/v1/node', headers: asAdmin });
    expect([response.statusCode, response.json()]).toEqual([500, { error: 'internal', message: 'internal error' }]);
  });

  it('works without onDenied and without a viewer token', async () => {
    const options = testOptions();
    const { onDenied, viewerToken: _viewer, ...rest } = options;
    expect(onDenied).toBeDefined();
    const app = buildApi({ ...rest, authorize: () => ({ allowed: false, policyIds: [] }) });
    const denied = await app.inject({ url: '/v1/node', headers: asAdmin });
    expect(denied.json()).toEqual({ error: 'forbidden', message: `policy denies apiRead to ${adminCallerId}`, action: 'apiRead', policyIds: [] });
    expect((await app.inject({ url: '/v1/node', headers: asViewer })).statusCode).toBe(401);
  });
});

describe('POST /v1/ping and /v1/traceroute', () => {
  it('fill in defaults and return the backend result', async () => {
    const { app, backend } = testApi();
    const ping = await app.inject(post('/v1/ping', { dst: peerA }));
    expect(ping.statusCode).toBe(200);
    expect(ping.json()).toEqual({ dst: peerA, replies: [1, 2, 3].map((seq) => ({ seq, rttMs: 1 + (seq - 1) * 0.25, outcome: 'reply' })) });
    await app.inject(post('/v1/ping', { dst: peerB, count: 100, intervalMs: 10, timeoutMs: 30_000 }));
    const trace = await app.inject(post('/v1/traceroute', { dst: selfId, maxHops: 64, timeoutMs: 10 }));
    expect(trace.json()).toEqual([
      { hop: 1, nodeId: peerA, rttMs: 0.5 },
      { hop: 2, nodeId: null, rttMs: null },
      { hop: 3, nodeId: selfId, rttMs: 2.75 },
    ]);
    await app.inject(post('/v1/traceroute', { dst: silentId }));
    expect(backend.calls.map((c) => c.args)).toEqual([
      [peerA, { count: 3, intervalMs: 1000, timeoutMs: 1000 }],
      [peerB, { count: 100, intervalMs: 10, timeoutMs: 30_000 }],
      [selfId, { maxHops: 64, timeoutMs: 10 }],
      [silentId, { maxHops: 16, timeoutMs: 1000 }],
    ]);
  });

  it('answer 400 naming each bad field', async () => {
    const { app, backend } = testApi();
    const int = (min: number, max: number) => `expected an integer in ${min}..${max}`;
    const hex = 'expected 8 lower-case hex digits, not 00000000';
    const cases: [string, unknown, string][] = [
      ['/v1/ping', {}, 'body.dst: required'],
      ['/v1/ping', { dst: 7 }, 'body.dst: expected a string'],
      ['/v1/ping', { dst: '0000ABCD' }, `body.dst: ${hex}`],
      ['/v1/ping', { dst: '00000000' }, `body.dst: ${hex}`],
      ['/v1/ping', { dst: '0000abc' }, `body.dst: ${hex}`],
      ['/v1/ping', { dst: peerA, count: 0 }, `body.count: ${int(1, 100)}`],
      ['/v1/ping', { dst: peerA, count: 101 }, `body.count: ${int(1, 100)}`],
      ['/v1/ping', { dst: peerA, count: 1.5 }, `body.count: ${int(1, 100)}`],
      ['/v1/ping', { dst: peerA, count: '3' }, `body.count: ${int(1, 100)}`],
      ['/v1/ping', { dst: peerA, intervalMs: 9 }, `body.intervalMs: ${int(10, 10_000)}`],
      ['/v1/ping', { dst: peerA, intervalMs: 10_001 }, `body.intervalMs: ${int(10, 10_000)}`],
      ['/v1/ping', { dst: peerA, timeoutMs: 9 }, `body.timeoutMs: ${int(10, 30_000)}`],
      ['/v1/ping', { dst: peerA, timeoutMs: 30_001 }, `body.timeoutMs: ${int(10, 30_000)}`],
      ['/v1/ping', { dst: peerA, size: 64 }, 'body.size: unknown field'],
      ['/v1/ping', { dst: 'x', count: 0 }, `body.dst: ${hex}; body.count: ${int(1, 100)}`],
      ['/v1/ping', [peerA], 'body: expected a JSON object'],
      ['/v1/ping', 'ping', 'body: expected a JSON object'],
      ['/v1/traceroute', { maxHops: 3 }, 'body.dst: required'],
      ['/v1/traceroute', { dst: peerA, maxHops: 0 }, `body.maxHops: ${int(1, 64)}`],
      ['/v1/traceroute', { dst: peerA, maxHops: 65 }, `body.maxHops: ${int(1, 64)}`],
      ['/v1/traceroute', { dst: peerA, timeoutMs: 0 }, `body.timeoutMs: ${int(10, 30_000)}`],
      ['/v1/traceroute', { dst: peerA, count: 1 }, 'body.count: unknown field'],
    ];
    for (const [url, payload, message] of cases) {
      const response = await app.inject(post(url, typeof payload === 'string' ? JSON.stringify(payload) : payload, { ...asAdmin, 'content-type': 'application/json' }));
      expect([response.statusCode, response.json()], `${url} ${JSON.stringify(payload)}`).toEqual([400, { error: 'bad_request', message }]);
    }
    expect(backend.calls).toEqual([]);
  });
});

describe('POST /v1/send', () => {
  it('answers 202 with the SendResult and hands the decoded bytes to the backend', async () => {
    const { app, backend } = testApi();
    const full = Buffer.alloc(sendPayloadBytesMax, 7).toString('base64');
    const responses = [
      await app.inject(post('/v1/send', { dst: peerA, payloadBase64: 'aGVsbG8=' })),
      await app.inject(post('/v1/send', { dst: silentId, payloadBase64: full })),
    ];
    expect(responses.map((r) => [r.statusCode, r.json()])).toEqual([
      [202, { id: 1, routed: true }],
      [202, { id: 2, routed: false }],
    ]);
    expect(Buffer.from(backend.calls[0]!.args[1] as Uint8Array).toString()).toBe('hello');
    expect((backend.calls[1]!.args[1] as Uint8Array).length).toBe(sendPayloadBytesMax);
  });

  it('answers 400 naming the field for a missing, malformed, non-canonical or too large payload', async () => {
    const { app } = testApi();
    const tooLarge = Buffer.alloc(sendPayloadBytesMax + 1).toString('base64');
    const cases: [unknown, string][] = [
      [{ dst: peerA }, 'body.payloadBase64: required'],
      [{ dst: peerA, payloadBase64: 42 }, 'body.payloadBase64: expected a string'],
      [{ dst: peerA, payloadBase64: 'aGVsbG8' }, 'body.payloadBase64: expected standard base64 with padding'],
      [{ dst: peerA, payloadBase64: 'aGV*bG8=' }, 'body.payloadBase64: expected standard base64 with padding'],
      [{ dst: peerA, payloadBase64: 'QR==' }, 'body.payloadBase64: expected canonical base64 (unused bits zero)'],
      [{ dst: peerA, payloadBase64: tooLarge }, `body.payloadBase64: expected at most ${sendPayloadBytesMax} bytes (sendPayloadBytesMax) after decoding, got ${sendPayloadBytesMax + 1}`],
      [{ payloadBase64: 'AA==' }, 'body.dst: required'],
      [{ dst: peerA, payloadBase64: 'AA==', ttl: 3 }, 'body.ttl: unknown field'],
    ];
    for (const [payload, message] of cases) {
      const response = await app.inject(post('/v1/send', payload));
      expect([response.statusCode, response.json()], JSON.stringify(payload).slice(0, 80)).toEqual([400, { error: 'bad_request', message }]);
    }
  });
});

describe('bodies fastify refuses', () => {
  it('maps no body, empty JSON, broken JSON, a wrong content type and an oversized body to JSON errors', async () => {
    const { app } = testApi();
    const noBody = await app.inject({ method: 'POST', url: '/v1/ping', headers: asAdmin });
    expect([noBody.statusCode, noBody.json()]).toEqual([400, { error: 'bad_request', message: 'body: expected a JSON object' }]);
    const json = { ...asAdmin, 'content-type': 'application/json' };
    const empty = await app.inject({ method: 'POST', url: '/v1/ping', headers: json, payload: '' });
    expect(empty.statusCode).toBe(400);
    expect(empty.json()).toEqual({ error: 'bad_request', message: "body: Body cannot be empty when content-type is set to 'application/json'" });
    const broken = await app.inject({ method: 'POST', url: '/v1/ping', headers: json, payload: '{"dst":' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toEqual({ error: 'bad_request', message: "body: Body is not valid JSON but content-type is set to 'application/json'" });
    const text = await app.inject({ method: 'POST', url: '/v1/ping', headers: { ...asAdmin, 'content-type': 'text/plain' }, payload: 'hello' });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toEqual({ error: 'unsupported_media_type', message: 'body: expected content-type application/json, got "text/plain"' });
    const untyped = await app.inject({ method: 'POST', url: '/v1/ping', headers: asAdmin, payload: Buffer.from('{}') });
    expect([untyped.statusCode, untyped.json()]).toEqual([415, { error: 'unsupported_media_type', message: 'body: expected content-type application/json, got ""' }]);
    const huge = await app.inject(post('/v1/send', { dst: peerA, payloadBase64: 'A'.repeat(requestBodyBytesMax) }));
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toEqual({ error: 'payload_too_large', message: `body: expected at most ${requestBodyBytesMax} bytes (requestBodyBytesMax)` });
  });

  it('authenticates before reading the body: a bad body without a token is 401', async () => {
    const { app } = testApi();
    expect((await app.inject(post('/v1/ping', { dst: 'nope' }, {}))).statusCode).toBe(401);
  });
});

describe('POST /v1/drain', () => {
  it('answers 202 at once, also when draining later fails, and 500 when drain() throws at once', async () => {
    const { app, backend } = testApi();
    const first = await app.inject(post('/v1/drain', undefined));
    expect([first.statusCode, first.json()]).toEqual([202, { status: 'draining' }]);
    backend.drainRejects = true;
    expect((await app.inject(post('/v1/drain', undefined))).statusCode).toBe(202);
    expect(backend.drainCount).toBe(2);
    backend.drain = () => {
      throw new Error('no drain today');
    };
    expect((await app.inject(post('/v1/drain', undefined))).statusCode).toBe(500);
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
  });
});

describe('POST /v1/neighbours/:link/down and /up', () => {
  it('take a link down and up again: 200 { link, disabled }, the backend told each time', async () => {
    const { app, backend } = testApi();
    const down = await app.inject(post('/v1/neighbours/1/down', undefined));
    expect([down.statusCode, down.json()]).toEqual([200, { link: 1, disabled: true }]);
    expect(backend.neighbourList[0]!.disabled).toBe(true);
    const neighbours = await app.inject({ url: '/v1/neighbours', headers: asAdmin });
    expect((neighbours.json() as { link: number; disabled: boolean }[]).map((n) => [n.link, n.disabled])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    // Idempotent: a link already down answers the same.
    expect((await app.inject(post('/v1/neighbours/1/down', undefined))).json()).toEqual({ link: 1, disabled: true });
    const up = await app.inject(post('/v1/neighbours/2/up', undefined));
    expect([up.statusCode, up.json()]).toEqual([200, { link: 2, disabled: false }]);
    expect(backend.calls.filter((c) => c.method === 'setLinkDisabled').map((c) => c.args)).toEqual([
      [1, true],
      [1, true],
      [2, false],
    ]);
  });

  it('answer 404 not_found naming the link when the backend has no such link', async () => {
    const { app, backend } = testApi();
    for (const verb of ['down', 'up']) {
      const response = await app.inject(post(`/v1/neighbours/7/${verb}`, undefined));
      expect([response.statusCode, response.json()], verb).toEqual([404, { error: 'not_found', message: 'no link 7' }]);
    }
    expect(backend.calls.map((c) => [c.method, ...c.args])).toEqual([
      ['setLinkDisabled', 7, true],
      ['setLinkDisabled', 7, false],
    ]);
  });

  it('answer 400 naming params.link for anything but a positive integer, before calling the backend', async () => {
    const { app, backend } = testApi();
    const positive = 'params.link: expected a positive integer';
    const cases: [string, string][] = [
      ['0', positive],
      ['-1', positive],
      ['07', positive],
      ['1.5', positive],
      ['1e3', positive],
      ['0x10', positive],
      ['%20', positive],
      ['abc', positive],
      ['9007199254740992', `params.link: expected at most ${Number.MAX_SAFE_INTEGER}`],
    ];
    for (const [link, message] of cases) {
      const response = await app.inject(post(`/v1/neighbours/${link}/down`, undefined));
      expect([response.statusCode, response.json()], link).toEqual([400, { error: 'bad_request', message }]);
    }
    // Fastify refuses a parameter over 100 characters before routing; the answer keeps the API's format.
    const long = await app.inject(post(`/v1/neighbours/${'1'.repeat(150)}/down`, undefined));
    expect(long.statusCode).toBe(400);
    expect(long.json()).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/^url: /) });
    expect(backend.calls).toEqual([]);
  });

  it('answer 403 with the policy ids to a viewer and 401 without a token, before calling the backend', async () => {
    const { app, backend, denials } = testApi();
    const denied = await app.inject(post('/v1/neighbours/1/down', undefined, asViewer));
    expect([denied.statusCode, denied.json()]).toEqual([
      403,
      { error: 'forbidden', message: `policy denies apiLinks to ${viewerCallerId}`, action: 'apiLinks', policyIds: [viewerPolicyId] },
    ]);
    expect(denials.map((d) => [d.caller.id, d.action, d.policyIds])).toEqual([[viewerCallerId, 'apiLinks', [viewerPolicyId]]]);
    for (const verb of ['down', 'up']) {
      const anonymous = await app.inject(post(`/v1/neighbours/1/${verb}`, undefined, {}));
      expect([anonymous.statusCode, anonymous.json()], verb).toEqual([401, { error: 'unauthorized', message: 'missing Authorization header: expected "Bearer <token>"' }]);
    }
    // Even a bad :link is 401 without a token: authentication comes first.
    expect((await app.inject(post('/v1/neighbours/x/down', undefined, {}))).statusCode).toBe(401);
    expect(backend.calls).toEqual([]);
  });

  it('answer 500 when the backend throws', async () => {
    const { app, backend } = testApi();
    backend.failing.add('setLinkDisabled');
    const response = await app.inject(post('/v1/neighbours/1/down', undefined));
    expect([response.statusCode, response.json()]).toEqual([500, { error: 'internal', message: 'internal error' }]);
  });
});

describe('GET /v1/incidents and /v1/actions', () => {
  it('return the loop\'s incidents, and its decisions from the audit log with the audit log\'s query', async () => {
    const { app, backend } = testApi();
    const incidents = await app.inject({ url: '/v1/incidents', headers: asAdmin });
    expect([incidents.statusCode, incidents.json()]).toEqual([200, backend.incidentList]);
    backend.auditList.unshift({ id: 5, at: '2025-01-01T02:00:00.000Z', actor: 'mape-k', action: 'mapek.actionStarted', subject: `node:${peerB}`, outcome: 'ok', detail: '{"cause":"greyHole"}' });
    const actions = await app.inject({ url: '/v1/actions?limit=5', headers: asAdmin });
    expect([actions.statusCode, actions.json()]).toEqual([200, [backend.auditList[0]]]);
    const bad = await app.inject({ url: '/v1/actions?limit=0', headers: asAdmin });
    expect([bad.statusCode, (bad.json() as { message: string }).message]).toEqual([400, `query.limit: expected an integer in 1..${auditLimitMax}`]);
  });
});

describe('GET /v1/audit', () => {
  const ids = (body: unknown): number[] => (body as { id: number }[]).map((record) => record.id);

  it('returns the audit log newest first, passing limit (default 100) and since (normalised to UTC) to the backend', async () => {
    const { app, backend } = testApi();
    const all = await app.inject({ url: '/v1/audit', headers: asAdmin });
    expect([all.statusCode, all.json()]).toEqual([200, backend.auditList]);
    expect(all.headers['cache-control']).toBe('no-store');
    expect(ids((await app.inject({ url: '/v1/audit?limit=2', headers: asAdmin })).json())).toEqual([4, 3]);
    // 01:30 at +01:00 is 00:30 UTC: the svid.renew record and everything after it.
    expect(ids((await app.inject({ url: '/v1/audit?since=2025-01-01T01:30:00%2B01:00', headers: asAdmin })).json())).toEqual([4, 3]);
    const both = await app.inject({ url: `/v1/audit?limit=${auditLimitMax}&since=2025-01-01T00:10:00Z`, headers: asAdmin });
    expect(ids(both.json())).toEqual([4, 3, 2]);
    expect((await app.inject({ url: '/v1/audit?since=2025-01-02T00:00:00.5Z', headers: asAdmin })).json()).toEqual([]);
    expect(backend.calls.map((c) => [c.method, ...c.args])).toEqual([
      ['audit', { limit: auditLimitDefault }],
      ['audit', { limit: 2 }],
      ['audit', { limit: auditLimitDefault, since: '2025-01-01T00:30:00.000Z' }],
      ['audit', { limit: auditLimitMax, since: '2025-01-01T00:10:00.000Z' }],
      ['audit', { limit: auditLimitDefault, since: '2025-01-02T00:00:00.500Z' }],
    ]);
  });

  it('answers 400 naming query.limit or query.since for anything not strictly valid, before calling the backend', async () => {
    const { app, backend } = testApi();
    const limit = `query.limit: expected an integer in 1..${auditLimitMax}`;
    const since = `query.since: ${isoDateTimeMessage}`;
    const cases: [string, string][] = [
      ['limit=0', limit],
      [`limit=${auditLimitMax + 1}`, limit],
      ['limit=-1', limit],
      ['limit=05', limit],
      ['limit=1.5', limit],
      ['limit=1e3', limit],
      ['limit=0x10', limit],
      ['limit=%205', limit],
      ['limit=', limit],
      ['limit=ten', limit],
      ['limit=99999999999999999999', limit],
      ['limit=1&limit=2', limit],
      ['since=yesterday', since],
      ['since=2025-01-01', since],
      ['since=2025-01-01T00:00Z', since],
      ['since=2025-01-01T00:00:00', since],
      ['since=2025-02-30T00:00:00Z', since],
      ['since=2025-01-01t00:00:00z', since],
      // An unencoded + is a space in a query string, so the offset is lost.
      ['since=2025-01-01T00:00:00+02:00', since],
      ['since=', since],
      ['since=2025-01-01T00:00:00Z&since=2025-01-02T00:00:00Z', since],
      ['kinds=lifecycle', 'query.kinds: unknown field'],
      ['limit=0&since=now', `${limit}; ${since}`],
    ];
    for (const [query, message] of cases) {
      const response = await app.inject({ url: `/v1/audit?${query}`, headers: asAdmin });
      expect([response.statusCode, response.json()], query).toEqual([400, { error: 'bad_request', message }]);
    }
    expect(backend.calls).toEqual([]);
  });

  it('answers 401 without a valid token, even for a bad query, before calling the backend', async () => {
    const { app, backend, decisions } = testApi();
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }]) {
      for (const url of ['/v1/audit', '/v1/audit?limit=0']) {
        const response = await app.inject({ url, headers });
        expect(response.statusCode, url).toBe(401);
        expect(response.json(), url).toMatchObject({ error: 'unauthorized' });
      }
    }
    expect(backend.calls).toEqual([]);
    expect(decisions).toEqual([]);
  });

  it('is apiRead: a viewer may read it, and a policy that denies apiRead gets 403', async () => {
    const { app, backend, decisions, denials } = testApi();
    const response = await app.inject({ url: '/v1/audit?limit=1', headers: asViewer });
    expect([response.statusCode, ids(response.json())]).toEqual([200, [4]]);
    expect(decisions).toEqual([{ caller: { kind: 'operator', role: 'viewer', id: viewerCallerId }, action: 'apiRead' }]);
    expect(denials).toEqual([]);
    expect(backend.calls.map((c) => c.args)).toEqual([[{ limit: 1 }]]);
    const denyRead = testApi({ authorize: (_caller, action) => ({ allowed: action !== 'apiRead', policyIds: ['no-read'] }) });
    const denied = await denyRead.app.inject({ url: '/v1/audit', headers: asViewer });
    expect([denied.statusCode, denied.json()]).toEqual([403, { error: 'forbidden', message: `policy denies apiRead to ${viewerCallerId}`, action: 'apiRead', policyIds: ['no-read'] }]);
    expect(denyRead.backend.calls).toEqual([]);
  });
});

describe('unknown routes and failures', () => {
  it('answers 404 JSON for an unknown path or method, without a token', async () => {
    const { app } = testApi();
    const unknown = await app.inject({ url: '/v1/nothing?x=1' });
    expect([unknown.statusCode, unknown.json()]).toEqual([404, { error: 'not_found', message: 'no route GET /v1/nothing' }]);
    const wrongMethod = await app.inject({ method: 'GET', url: '/v1/ping', headers: asAdmin });
    expect(wrongMethod.json()).toEqual({ error: 'not_found', message: 'no route GET /v1/ping' });
    const long = await app.inject({ url: `/${'a'.repeat(1000)}` });
    expect((long.json() as { message: string }).message).toBe(`no route GET ${`/${'a'.repeat(1000)}`.slice(0, notFoundUrlCharsMax)}`);
  });

  it('answers 500 without the backend message when the backend throws, and keeps answering', async () => {
    const { app, backend } = testApi();
    const requests = [
      { url: '/v1/node', headers: asAdmin },
      { url: '/v1/neighbours', headers: asAdmin },
      { url: '/v1/routes', headers: asAdmin },
      post('/v1/ping', { dst: peerA }),
      post('/v1/traceroute', { dst: peerA }),
      post('/v1/send', { dst: peerA, payloadBase64: '' }),
      { url: '/metrics', headers: asAdmin },
      { url: '/v1/audit', headers: asAdmin },
    ];
    for (const method of ['info', 'neighbours', 'routes', 'ping', 'traceroute', 'send', 'counters', 'audit'] as const) backend.failing.add(method);
    for (const request of requests) {
      const response = await app.inject(request);
      expect([response.statusCode, response.json()], request.url).toEqual([500, { error: 'internal', message: 'internal error' }]);
    }
    backend.failing.clear();
    for (const request of requests) expect((await app.inject(request)).statusCode, request.url).toBeLessThan(300);
  });

  it('does not trust a status code on a backend error', async () => {
    const { app, backend } = testApi();
    backend.info = () => {
      throw Object.assign(new Error('looks like a client error'), { statusCode: 400, code: 'ERR_SOMETHING' });
    };
    expect((await app.inject({ url: '/v1/node', headers: asAdmin })).statusCode).toBe(500);
    backend.info = () => {
      throw null;
    };
    expect((await app.inject({ url: '/v1/node', headers: asAdmin })).statusCode).toBe(500);
  });
});

describe('startApi', () => {
  let running: RunningApi | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('listens on an ephemeral loopback port and returns the real address', async () => {
    running = await startApi({ ...testOptions(), port: 0 });
    expect(running.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(running.address).not.toBe('http://127.0.0.1:0');
    const response = await fetch(`${running.address}/v1/node`, { headers: asAdmin });
    expect(((await response.json()) as { nodeId: string }).nodeId).toBe(selfId);
  });

  it('rejects when the port is taken', async () => {
    running = await startApi({ ...testOptions(), port: 0 });
    const port = Number(new URL(running.address).port);
    await expect(startApi({ ...testOptions(), host: '127.0.0.1', port })).rejects.toThrow(/EADDRINUSE/);
  });

  it('lists no routes for an app it did not build', () => {
    expect(registeredRoutes(Fastify())).toEqual([]);
  });

  it('formats IPv4 and IPv6 base URLs', () => {
    expect(baseUrl({ address: '127.0.0.1', family: 'IPv4', port: 7480 })).toBe('http://127.0.0.1:7480');
    expect(baseUrl({ address: '::1', family: 'IPv6', port: 7480 })).toBe('http://[::1]:7480');
  });
});
