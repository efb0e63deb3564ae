/** Shared set-up of the API tests: a fake backend, a recording policy and the tokens. */
import type { FastifyInstance } from 'fastify';
import type { ApiAction, ApiCaller } from '../../src/api/auth.js';
import { buildApi, type ApiOptions } from '../../src/api/server.js';
import { FakeBackend, adminToken, viewerToken } from './fake-backend.js';

/** The policy of the tests: admin may do everything, viewer may read and watch events. */
export const viewerActions: readonly ApiAction[] = ['apiRead', 'apiEvents'];
/** Policy id the test policy reports for a denial. */
export const viewerPolicyId = 'viewer-read-only';

/** A built API with its fake backend and records of the policy calls. */
export interface TestApi {
  readonly app: FastifyInstance;
  readonly backend: FakeBackend;
  readonly decisions: { caller: ApiCaller; action: ApiAction }[];
  readonly denials: { caller: ApiCaller; action: ApiAction; policyIds: readonly string[] }[];
}

/** The options buildApi gets in the tests, with records of the policy calls. */
export function testOptions(backend = new FakeBackend(), overrides: Partial<ApiOptions> = {}): ApiOptions & Pick<TestApi, 'decisions' | 'denials'> {
  const decisions: TestApi['decisions'] = [];
  const denials: TestApi['denials'] = [];
  return {
    backend,
    decisions,
    denials,
    adminToken,
    viewerToken,
    authorize: (caller, action) => {
      decisions.push({ caller, action });
      const allowed = (caller.kind === 'operator' && caller.role === 'admin') || viewerActions.includes(action);
      return { allowed, policyIds: allowed ? ['admin-all'] : [viewerPolicyId] };
    },
    onDenied: (caller, action, policyIds) => denials.push({ caller, action, policyIds }),
    ...overrides,
  };
}

/** buildApi over a fresh fake backend. */
export function testApi(overrides: Partial<ApiOptions> = {}, backend = new FakeBackend()): TestApi {
  const options = testOptions(backend, overrides);
  return { app: buildApi(options), backend, decisions: options.decisions, denials: options.denials };
}

/** Authorization header of the admin token. */
export const asAdmin = { authorization: `Bearer ${adminToken}` };
/** Authorization header of the viewer token. */
export const asViewer = { authorization: `Bearer ${viewerToken}` };
