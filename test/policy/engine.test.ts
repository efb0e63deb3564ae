import { describe, expect, it } from 'vitest';
import { isSpiffeIdError } from '../../src/identity/spiffe-id.js';
import { apiActions, callerRefFromSpiffeId, decisionCacheEntriesMax, newPolicyStats, nodeRefFromSpiffeId, PolicyEngine, type CallerRef, type PolicyDenyRecord } from '../../src/policy/index.js';
import { engineOf, node, shippedDefault, shippedExample, shippedSchema, shippedSchemaWith } from './helpers.js';

const local = node('mesh.example', '00000001');
const sameDomain = node('mesh.example', '00000002');
const foreign = node('other.example', '00000002');
const admin: CallerRef = { kind: 'operator', id: 'alice', role: 'admin' };
const viewer: CallerRef = { kind: 'operator', id: 'bob', role: 'viewer' };
const shipped = engineOf([shippedDefault]);

describe('nodeRefFromSpiffeId', () => {
  it('takes the trust domain and node id from a node SPIFFE ID', () => {
    expect(nodeRefFromSpiffeId('spiffe://mesh.example/node/0000002a')).toEqual({ spiffeId: 'spiffe://mesh.example/node/0000002a', trustDomain: 'mesh.example', nodeId: '0000002a' });
  });

  it.each([
    ['spiffe://mesh.example/workload', 'ERR_SPIFFE_NOT_A_NODE'],
    ['spiffe://mesh.example/node/00000000', 'ERR_SPIFFE_NOT_A_NODE'],
    ['https://mesh.example/node/0000002a', 'ERR_SPIFFE_SCHEME'],
    ['spiffe://Mesh.example/node/0000002a', 'ERR_SPIFFE_TRUST_DOMAIN_CHAR'],
  ])('refuses %s with the SPIFFE error %s', (text, code) => {
    let thrown: unknown;
    try {
      nodeRefFromSpiffeId(text);
    } catch (error) {
      thrown = error;
    }
    expect(isSpiffeIdError(thrown) && thrown.code).toBe(code);
  });
});

describe('callerRefFromSpiffeId', () => {
  it('makes a node SVID a Node caller and any other SVID a Workload caller with its path', () => {
    expect(callerRefFromSpiffeId('spiffe://mesh.example/node/0000002a')).toEqual({ kind: 'node', node: nodeRefFromSpiffeId('spiffe://mesh.example/node/0000002a') });
    expect(callerRefFromSpiffeId('spiffe://mesh.example/operator/alice')).toEqual({ kind: 'workload', spiffeId: 'spiffe://mesh.example/operator/alice', trustDomain: 'mesh.example', path: '/operator/alice' });
    // /node/00000000 is not a node id: a workload, which no node policy matches.
    expect(callerRefFromSpiffeId('spiffe://mesh.example/node/00000000')).toMatchObject({ kind: 'workload', path: '/node/00000000' });
    expect(() => callerRefFromSpiffeId('https://mesh.example/operator/alice')).toThrow(/spiffe:\/\//);
  });
});

describe('the shipped default policy', () => {
  it('admits peering and transit within the node\'s own trust domain', () => {
    expect(shipped.canPeer(local, sameDomain)).toEqual({ allowed: true, policyIds: ['peer-same-trust-domain'], errors: [] });
    expect(shipped.canTransit(local, sameDomain)).toEqual({ allowed: true, policyIds: ['transit-same-trust-domain'], errors: [] });
  });

  it('denies a foreign trust domain, with no determining policy (nothing permitted it)', () => {
    expect(shipped.canPeer(local, foreign)).toEqual({ allowed: false, policyIds: [], errors: [] });
    expect(shipped.canTransit(local, foreign)).toEqual({ allowed: false, policyIds: [], errors: [] });
    // The resource is the deciding node: a node of other.example admits its own domain only.
    expect(shipped.canPeer(foreign, local).allowed).toBe(false);
    expect(shipped.canPeer(foreign, node('other.example', '00000003')).allowed).toBe(true);
  });

  it('lets an admin take every API action and a viewer only read', () => {
    for (const action of apiActions) {
      expect(shipped.canCallApi(local, admin, action)).toEqual({ allowed: true, policyIds: ['api-admin'], errors: [] });
      expect(shipped.canCallApi(local, viewer, action).allowed).toBe(action === 'apiRead');
    }
    expect(shipped.canCallApi(local, viewer, 'apiRead').policyIds).toEqual(['api-viewer-read']);
    expect(shipped.canCallApi(local, viewer, 'apiDrain')).toEqual({ allowed: false, policyIds: [], errors: [] });
    expect(shipped.canCallApi(local, viewer, 'apiLinks')).toEqual({ allowed: false, policyIds: [], errors: [] });
  });

  it('knows every API action, apiLinks included, as a member of the group api', () => {
    expect(apiActions).toEqual(['apiRead', 'apiPing', 'apiSend', 'apiEvents', 'apiDrain', 'apiLinks']);
    const group = engineOf([{ source: 'g.cedar', text: '@id("group") permit (principal, action in X0t::Action::"api", resource);' }]);
    for (const action of apiActions) expect(group.canCallApi(local, viewer, action).policyIds, action).toEqual(['group']);
  });

  it('denies unknown roles and nodes calling the API', () => {
    expect(shipped.canCallApi(local, { kind: 'operator', id: 'eve', role: 'Admin' }, 'apiRead').allowed).toBe(false);
    expect(shipped.canCallApi(local, { kind: 'node', node: sameDomain }, 'apiRead').allowed).toBe(false);
    expect(shipped.canCallApi(local, callerRefFromSpiffeId('spiffe://mesh.example/operator/alice'), 'apiRead')).toEqual({ allowed: false, policyIds: [], errors: [] });
  });

  it('lists its policies in file order and has no warnings', () => {
    expect(shipped.policyIds).toEqual(['peer-same-trust-domain', 'transit-same-trust-domain', 'api-admin', 'api-viewer-read']);
    expect(shipped.warnings).toEqual([]);
  });
});

describe('the quarantine example', () => {
  const engine = engineOf([shippedDefault, shippedExample('quarantine.cedar')]);
  const quarantined = node('mesh.example', '0000002a');
  const refused = node('mesh.example', '0000002b');

  it('denies transit through the named node only, and still lets it peer', () => {
    expect(engine.canTransit(local, quarantined)).toEqual({ allowed: false, policyIds: ['quarantine-transit-0000002a'], errors: [] });
    expect(engine.canPeer(local, quarantined).allowed).toBe(true);
    expect(engine.canTransit(local, sameDomain).allowed).toBe(true);
    expect(engine.canTransit(local, refused).allowed).toBe(true);
    // The SPIFFE ID is named, not the node id: the same node id elsewhere is not quarantined by it.
    expect(engine.canTransit(node('other.example', '0000002a'), node('other.example', '0000002a')).allowed).toBe(true);
  });

  it('refuses sessions with the node of the peer rule', () => {
    expect(engine.canPeer(local, refused)).toEqual({ allowed: false, policyIds: ['quarantine-peer-0000002b'], errors: [] });
    expect(engine.canPeer(local, sameDomain).allowed).toBe(true);
  });
});

describe('the admin-only example', () => {
  const engine = engineOf([shippedDefault, shippedExample('admin-only.cedar')]);
  const operator: CallerRef = { kind: 'operator', id: 'carol', role: 'operator' };

  it('keeps drain, send and taking links down with admins', () => {
    const cases = [
      ['apiDrain', 'api-drain-send-admin-only'],
      ['apiSend', 'api-drain-send-admin-only'],
      ['apiLinks', 'api-links-admin-only'],
    ] as const;
    for (const [action, policyId] of cases) {
      expect(engine.canCallApi(local, admin, action)).toEqual({ allowed: true, policyIds: ['api-admin'], errors: [] });
      expect(engine.canCallApi(local, operator, action)).toEqual({ allowed: false, policyIds: [policyId], errors: [] });
      expect(engine.canCallApi(local, viewer, action)).toEqual({ allowed: false, policyIds: [policyId], errors: [] });
      expect(engine.canCallApi(local, { kind: 'node', node: sameDomain }, action).policyIds).toEqual([policyId]);
    }
  });

  it('lets the operator role read, ping and watch events', () => {
    for (const action of ['apiRead', 'apiPing', 'apiEvents'] as const) {
      expect(engine.canCallApi(local, operator, action)).toEqual({ allowed: true, policyIds: ['api-operator-routine'], errors: [] });
    }
  });

  it('forbids over a permit that would allow', () => {
    const permissive = engineOf([shippedDefault, shippedExample('admin-only.cedar'), { source: 'open.cedar', text: '@id("everyone") permit (principal, action, resource);' }]);
    expect(permissive.canCallApi(local, viewer, 'apiSend')).toEqual({ allowed: false, policyIds: ['api-drain-send-admin-only'], errors: [] });
    expect(permissive.canCallApi(local, viewer, 'apiLinks')).toEqual({ allowed: false, policyIds: ['api-links-admin-only'], errors: [] });
    expect(permissive.canCallApi(local, viewer, 'apiPing')).toEqual({ allowed: true, policyIds: ['everyone'], errors: [] });
  });
});

describe('the mtls-operators example', () => {
  const engine = engineOf([shippedDefault, shippedExample('mtls-operators.cedar')]);
  const alice = callerRefFromSpiffeId('spiffe://mesh.example/operator/alice');
  const adminSvid = callerRefFromSpiffeId('spiffe://mesh.example/operator/admin');

  it('lets an operator SVID of the own trust domain read and ping, but not drain, send or take links down', () => {
    expect(engine.canCallApi(local, alice, 'apiRead')).toEqual({ allowed: true, policyIds: ['api-operator-svid-read'], errors: [] });
    expect(engine.canCallApi(local, alice, 'apiPing').allowed).toBe(true);
    expect(engine.canCallApi(local, alice, 'apiSend')).toEqual({ allowed: false, policyIds: [], errors: [] });
    expect(engine.canCallApi(local, alice, 'apiDrain')).toEqual({ allowed: false, policyIds: ['api-svid-no-drain'], errors: [] });
    expect(engine.canCallApi(local, alice, 'apiLinks').policyIds).toEqual(['api-svid-no-drain']);
  });

  it('lets the admin SVID do everything; other paths, other trust domains and node SVIDs get nothing', () => {
    for (const action of apiActions) expect(engine.canCallApi(local, adminSvid, action).allowed, action).toBe(true);
    expect(engine.canCallApi(local, callerRefFromSpiffeId('spiffe://mesh.example/monitor/prom'), 'apiRead').allowed).toBe(false);
    expect(engine.canCallApi(local, callerRefFromSpiffeId('spiffe://other.example/operator/alice'), 'apiRead').allowed).toBe(false);
    expect(engine.canCallApi(local, callerRefFromSpiffeId('spiffe://mesh.example/node/00000002'), 'apiRead').allowed).toBe(false);
  });
});

describe('a policy directory whose schema predates X0t::Workload', () => {
  it('still loads, and a workload calling the API is denied with the error', () => {
    const start = shippedSchema.text.indexOf('  // A holder of an X509-SVID');
    const end = shippedSchema.text.indexOf('};', start) + 2;
    expect(start).toBeGreaterThan(0);
    const text = (shippedSchema.text.slice(0, start) + shippedSchema.text.slice(end)).replaceAll(', Workload]', ']');
    const old = PolicyEngine.load({ schema: { source: 'old.cedarschema', text }, policies: [shippedDefault, { source: 'all.cedar', text: '@id("all") permit (principal, action, resource);' }] });
    expect(old.canCallApi(local, admin, 'apiRead').allowed).toBe(true);
    const decision = old.canCallApi(local, callerRefFromSpiffeId('spiffe://mesh.example/operator/alice'), 'apiRead');
    expect(decision.allowed).toBe(false);
    expect(decision.errors.join(' ')).toMatch(/Workload/);
  });
});

describe('counting and reporting denies', () => {
  it('counts every decision and every deny by kind, and reports each deny with its policy ids', () => {
    const denies: PolicyDenyRecord[] = [];
    const engine = engineOf([shippedDefault, shippedExample('quarantine.cedar')], { onDeny: (record) => denies.push(record) });
    engine.canPeer(local, sameDomain);
    engine.canPeer(local, foreign);
    engine.canTransit(local, node('mesh.example', '0000002a'));
    engine.canTransit(local, node('mesh.example', '0000002a'));
    engine.canCallApi(local, viewer, 'apiDrain');
    engine.canCallApi(local, admin, 'apiDrain');
    expect(engine.stats).toEqual({ decisions: 6, denies: { peer: 1, transit: 2, api: 1 } });
    expect(denies).toEqual([
      { kind: 'peer', action: 'peer', principal: 'X0t::Node::"spiffe://other.example/node/00000002"', resource: 'X0t::Node::"spiffe://mesh.example/node/00000001"', policyIds: [], errors: [] },
      ...Array.from({ length: 2 }, () => ({
        kind: 'transit',
        action: 'transit',
        principal: 'X0t::Node::"spiffe://mesh.example/node/0000002a"',
        resource: 'X0t::Node::"spiffe://mesh.example/node/00000001"',
        policyIds: ['quarantine-transit-0000002a'],
        errors: [],
      })),
      { kind: 'api', action: 'apiDrain', principal: 'X0t::Operator::"bob"', resource: 'X0t::Node::"spiffe://mesh.example/node/00000001"', policyIds: [], errors: [] },
    ]);
  });

  it('adds to counters passed in, so they survive a reload', () => {
    const stats = newPolicyStats();
    engineOf([shippedDefault], { stats }).canPeer(local, foreign);
    const reloaded = engineOf([shippedDefault], { stats });
    reloaded.canPeer(local, foreign);
    reloaded.canPeer(local, sameDomain);
    expect(reloaded.stats).toBe(stats);
    expect(stats).toEqual({ decisions: 3, denies: { peer: 2, transit: 0, api: 0 } });
  });

  it('answers the same after forgetting its remembered decisions', () => {
    const engine = engineOf([shippedDefault]);
    for (let index = 0; index <= decisionCacheEntriesMax; index++) {
      const hex = (index + 2).toString(16).padStart(8, '0');
      expect(engine.canPeer(local, node(index % 2 === 0 ? 'mesh.example' : 'other.example', hex)).allowed).toBe(index % 2 === 0);
    }
    expect(engine.canPeer(local, sameDomain).allowed).toBe(true);
    expect(engine.canPeer(local, foreign).allowed).toBe(false);
    expect(engine.stats.denies.peer).toBe(decisionCacheEntriesMax / 2 + 1);
  });

  it('remembers a decision and still counts and reports it each time', () => {
    const records: PolicyDenyRecord[] = [];
    const engine = engineOf([shippedDefault], { onDeny: (record) => records.push(record) });
    const first = engine.canPeer(local, foreign);
    expect(engine.canPeer(local, foreign)).toBe(first);
    expect(records).toHaveLength(2);
    expect(engine.stats).toEqual({ decisions: 2, denies: { peer: 2, transit: 0, api: 0 } });
  });

  it('tells nodes apart by attributes, not only by SPIFFE ID', () => {
    // A NodeRef whose trust domain disagrees with its SPIFFE ID is judged by its attributes.
    const forged = { ...sameDomain, trustDomain: 'other.example' };
    expect(shipped.canPeer(local, sameDomain).allowed).toBe(true);
    expect(shipped.canPeer(local, forged).allowed).toBe(false);
  });
});

describe('default deny on errors', () => {
  const overflow = '9223372036854775807 + 1 > 0';

  it('denies when a forbid fails to evaluate, though Cedar would skip it and allow', () => {
    const broken = { source: 'broken.cedar', text: `@id("broken-forbid")\nforbid (principal is X0t::Node, action == X0t::Action::"peer", resource)\nwhen { principal.nodeId == "0000000b" && ${overflow} };` };
    const engine = engineOf([shippedDefault, broken]);
    const decision = engine.canPeer(local, node('mesh.example', '0000000b'));
    expect(decision.allowed).toBe(false);
    expect(decision.policyIds).toEqual(['broken-forbid']);
    expect(decision.errors).toHaveLength(1);
    expect(decision.errors[0]).toMatch(/^broken-forbid: integer overflow/);
    expect(engine.canPeer(local, sameDomain).allowed).toBe(true);
    expect(engine.stats.denies.peer).toBe(1);
  });

  it('names failed permits next to matching forbids', () => {
    const text = `@id("failing-permit") permit (principal, action == X0t::Action::"transit", resource) when { ${overflow} };`;
    const engine = engineOf([{ source: 'p.cedar', text }, shippedExample('quarantine.cedar')]);
    const decision = engine.canTransit(local, node('mesh.example', '0000002a'));
    expect(decision.allowed).toBe(false);
    expect(decision.policyIds).toEqual(['quarantine-transit-0000002a', 'failing-permit']);
    expect(decision.errors).toEqual([expect.stringMatching(/^failing-permit: integer overflow/)]);
  });

  it('denies a request the schema does not allow (a node calling an operator-only action)', () => {
    const operatorOnly = shippedSchemaWith('action apiRead in [api] appliesTo { principal: [Operator, Node, Workload]', 'action apiRead in [api] appliesTo { principal: [Operator]');
    const engine = operatorOnly([{ source: 'all.cedar', text: '@id("everyone") permit (principal, action, resource);' }]);
    expect(engine.canCallApi(local, admin, 'apiRead').allowed).toBe(true);
    const decision = engine.canCallApi(local, { kind: 'node', node: sameDomain }, 'apiRead');
    expect(decision.allowed).toBe(false);
    expect(decision.policyIds).toEqual([]);
    expect(decision.errors).toEqual([expect.stringMatching(/principal type `X0t::Node` is not valid for `X0t::Action::"apiRead"`; valid principal types/)]);
    expect(engine.stats.denies.api).toBe(1);
  });

  it('denies input the Cedar bindings cannot take, and keeps deciding afterwards', () => {
    const records: PolicyDenyRecord[] = [];
    const engine = engineOf([shippedDefault], { onDeny: (record) => records.push(record) });
    const decision = engine.canCallApi(local, { kind: 'operator', id: 'bad\uD800', role: 'admin' }, 'apiRead');
    expect(decision.allowed).toBe(false);
    expect(decision.errors).toEqual([expect.stringMatching(/^request refused by the Cedar bindings: /)]);
    expect(records).toHaveLength(1);
    expect(engine.canCallApi(local, admin, 'apiRead').allowed).toBe(true);
  });

  it('denies everything with no policies at all', () => {
    const empty = engineOf([]);
    expect(empty.policyIds).toEqual([]);
    expect(empty.canPeer(local, sameDomain).allowed).toBe(false);
    expect(empty.canCallApi(local, admin, 'apiRead').allowed).toBe(false);
  });

  it('returns decisions that callers cannot change', () => {
    const decision = shipped.canPeer(local, sameDomain);
    expect(Object.isFrozen(decision) && Object.isFrozen(decision.policyIds) && Object.isFrozen(decision.errors)).toBe(true);
    expect(Object.isFrozen(shipped.policyIds)).toBe(true);
  });
});
