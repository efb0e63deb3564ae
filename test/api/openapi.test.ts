import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ApiAction } from '../../src/api/auth.js';
import { ApiErrorStatus } from '../../src/api/errors.js';
import { findPackageRoot, openapiPath, readOpenapiDocument } from '../../src/api/openapi.js';
import { auditQuery, eventsQuery, linkParams, pingBody, sendBody, tracerouteBody } from '../../src/api/schemas.js';
import { buildApi, registeredRoutes } from '../../src/api/server.js';
import { apiActions } from '../../src/policy/refs.js';
import { peerA } from './fake-backend.js';
import { asAdmin, testApi, testOptions } from './helpers.js';

interface Operation {
  readonly security?: readonly unknown[];
  readonly 'x-x0t-action'?: ApiAction;
  readonly parameters?: readonly { readonly name: string; readonly in: string; readonly schema: unknown }[];
}

interface Document {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { readonly schemas: Record<string, { readonly properties?: Record<string, unknown> }> };
}

const documentText = readFileSync(openapiPath(), 'utf8');
const document = JSON.parse(documentText) as Document;
// OpenAPI writes path parameters as {name}, fastify as :name.
const operations = Object.entries(document.paths).flatMap(([url, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), url: url.replace(/\{(\w+)\}/g, ':$1'), operation })),
);
const key = (r: { method: string; url: string }): string => `${r.method} ${r.url}`;

/** A value for each path parameter that names something the fake backend has. */
const pathValues: Record<string, string> = { link: '1' };
const concrete = (url: string): string => url.replace(/:(\w+)/g, (_match, name: string) => pathValues[name] ?? `<no value for ${name}>`);

/** A request that passes validation for each operation. */
const validBodies: Record<string, unknown> = {
  'POST /v1/ping': { dst: peerA, count: 1 },
  'POST /v1/traceroute': { dst: peerA },
  'POST /v1/send': { dst: peerA, payloadBase64: 'aGk=' },
};

const jsonSchema = (schema: z.ZodType): Record<string, unknown> => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  return rest;
};

describe('openapi/openapi.json', () => {
  it('is OpenAPI 3.1 and found from the package root', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(openapiPath()).toBe(join(findPackageRoot(import.meta.dirname), 'openapi', 'openapi.json'));
    expect(readOpenapiDocument()).toBe(documentText);
    expect(() => findPackageRoot(mkdtempSync(join(tmpdir(), 'x0t-no-package-')))).toThrow(/no package.json above/);
    expect(() => readOpenapiDocument(join(mkdtempSync(join(tmpdir(), 'x0t-openapi-')), 'openapi.json'))).toThrow(/ENOENT/);
  });

  it('documents every route fastify registered, and no other', () => {
    const registered = registeredRoutes(testApi().app).map(key).sort();
    expect(registered.length).toBeGreaterThan(10);
    expect(operations.map(key).sort()).toEqual(registered);
    expect(registeredRoutes(testApi().app)).toEqual(registeredRoutes(buildApi(testOptions())));
  });

  it('names the action the server asks the policy for, and marks the public routes', async () => {
    const { app, decisions } = testApi();
    for (const { method, url, operation } of operations) {
      decisions.length = 0;
      const body = validBodies[key({ method, url })];
      if (url === '/v1/events') continue; // a stream: checked below without opening it
      const response = await app.inject({ method: method as 'GET' | 'POST', url: concrete(url), headers: asAdmin, ...(body === undefined ? {} : { payload: body as object }) });
      expect(response.statusCode, url).toBeLessThan(300);
      if (operation.security?.length === 0) {
        expect(operation['x-x0t-action'], url).toBeUndefined();
        expect(decisions, url).toEqual([]);
        expect((await app.inject({ method: method as 'GET', url })).statusCode, url).toBeLessThan(300);
      } else {
        expect(decisions.map((d) => d.action), url).toEqual([operation['x-x0t-action']]);
      }
    }
    const denyAll = testApi({ authorize: () => ({ allowed: false, policyIds: ['deny'] }) });
    const events = await denyAll.app.inject({ url: '/v1/events', headers: asAdmin });
    expect(events.json()).toMatchObject({ action: document.paths['/v1/events']!.get!['x-x0t-action'] });
  });

  it('carries the same body and query schemas as the zod parsers', () => {
    const schemas = document.components.schemas;
    expect(schemas.PingRequest).toEqual(jsonSchema(pingBody));
    expect(schemas.TracerouteRequest).toEqual(jsonSchema(tracerouteBody));
    expect(schemas.SendRequest).toEqual(jsonSchema(sendBody));
    const parameters = document.paths['/v1/events']!.get!.parameters!;
    expect(parameters.map((p) => [p.name, p.in])).toEqual([['kinds', 'query']]);
    expect(parameters[0]!.schema).toEqual((jsonSchema(eventsQuery).properties as Record<string, unknown>).kinds);
    const audit = document.paths['/v1/audit']!.get!.parameters!;
    const auditProperties = jsonSchema(auditQuery).properties as Record<string, unknown>;
    expect(audit.map((p) => [p.name, p.in])).toEqual(Object.keys(auditProperties).map((name) => [name, 'query']));
    for (const p of audit) expect(p.schema, p.name).toEqual(auditProperties[p.name]);
    for (const verb of ['down', 'up']) {
      const link = document.paths[`/v1/neighbours/{link}/${verb}`]!.post!.parameters!;
      expect(link.map((p) => [p.name, p.in]), verb).toEqual([['link', 'path']]);
      expect(link[0]!.schema, verb).toEqual((jsonSchema(linkParams).properties as Record<string, unknown>).link);
    }
  });

  it('lists every error code of the catalogue, and every API action of the policy', () => {
    const error = document.components.schemas.Error!.properties!.error as { enum: string[] };
    expect([...error.enum].sort()).toEqual(Object.keys(ApiErrorStatus).sort());
    const action = document.components.schemas.ForbiddenError!.properties!.action as { enum: string[] };
    expect(action.enum).toEqual([...apiActions]);
    expect(new Set(operations.map((o) => o.operation['x-x0t-action']).filter((a) => a !== undefined))).toEqual(new Set(apiActions));
  });

  it('names both credentials: a bearer token, or a client SVID over mutual TLS', () => {
    const full = JSON.parse(documentText) as { security: unknown; components: { securitySchemes: Record<string, { type: string; scheme?: string }> } };
    expect(full.security).toEqual([{ bearerToken: [] }, { clientSvid: [] }]);
    expect(full.components.securitySchemes.bearerToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(full.components.securitySchemes.clientSvid).toMatchObject({ type: 'mutualTLS' });
    for (const { url, operation } of operations) if (operation.security !== undefined) expect(operation.security, url).toEqual([]);
  });

  it('is served unchanged at GET /openapi.json without a token', async () => {
    const { app } = testApi();
    const response = await app.inject({ url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.body).toBe(documentText);
    expect((await app.inject({ url: '/openapi.json' })).body).toBe(documentText);
  });
});
