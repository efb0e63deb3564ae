import { describe, expect, it } from 'vitest';
import { policiesMax, PolicyEngine, PolicyError, policyIdLengthMax, policyTextBytesMax, type PolicySource } from '../../src/policy/index.js';
import { engineOf, node, policyRefusal, shippedDefault, shippedSchemaWith } from './helpers.js';

const peerSame = '@id("peer-same") permit (principal is X0t::Node, action == X0t::Action::"peer", resource) when { principal.trustDomain == resource.trustDomain };';

function file(source: string, text: string): PolicySource {
  return { source, text };
}

describe('syntax errors', () => {
  it('name the file, line and column, with what Cedar expected', () => {
    const text = `${peerSame}\n\n// the next policy is cut short\n@id("broken")\npermit (principal, action, resource) when { principal.trustDomain == };\n`;
    const error = policyRefusal(() => engineOf([shippedDefault, file('/etc/x0t/policies/local.cedar', text)]));
    expect(error).toBeInstanceOf(PolicyError);
    expect(error.code).toBe('ERR_POLICY_PARSE');
    expect(error.message).toMatch(/^\/etc\/x0t\/policies\/local\.cedar:5:70: unexpected token `}` \(expected .*\)$/);
  });

  it('count lines and columns in characters when the file holds non-ASCII text and CRLF line ends', () => {
    const text = '// Prüfung — ünïcödé\r\npermit (principal, action, resource) when { x };\r\n';
    expect(policyRefusal(() => engineOf([file('u.cedar', text)])).message).toMatch(/^u\.cedar:2:45: invalid variable: x; the valid Cedar variables are/);
  });

  it('refuse templates', () => {
    const error = policyRefusal(() => engineOf([file('t.cedar', 'permit (principal == ?principal, action, resource);')]));
    expect(error.code).toBe('ERR_POLICY_PARSE');
    expect(error.message).toBe('t.cedar: templates (policies with ?principal or ?resource slots) are not supported');
  });
});

describe('strict validation', () => {
  it('refuses an unknown attribute, naming the policy id, file and line', () => {
    const text = `${peerSame}\n@id("uses-region")\npermit (principal is X0t::Node, action == X0t::Action::"transit", resource)\nwhen { principal.region == "eu" };\n`;
    const error = policyRefusal(() => engineOf([file('region.cedar', text)]));
    expect(error.code).toBe('ERR_POLICY_VALIDATE');
    expect(error.message).toMatch(/^region\.cedar:4:8: for policy `uses-region`, attribute `region` on entity type `X0t::Node` not found/);
  });

  it('refuses an unknown entity type and an unknown action, listing every finding', () => {
    const text = [
      '@id("unknown-type") permit (principal is X0t::Router, action, resource);',
      '@id("unknown-action") permit (principal, action == X0t::Action::"apiAdmin", resource);',
      '@id("role-on-node") permit (principal, action in X0t::Action::"api", resource) when { principal.role == "admin" };',
    ].join('\n');
    const error = policyRefusal(() => engineOf([file('x.cedar', text)]));
    expect(error.code).toBe('ERR_POLICY_VALIDATE');
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^x\.cedar:1:\d+: for policy `unknown-type`, unrecognized entity type `X0t::Router`/),
        expect.stringMatching(/^x\.cedar:2:\d+: for policy `unknown-action`, unrecognized action `X0t::Action::"apiAdmin"`/),
        expect.stringMatching(/^x\.cedar:3:\d+: for policy `role-on-node`, attribute `role` on entity type `X0t::Node` not found/),
        expect.stringMatching(/^x\.cedar:3:\d+: for policy `role-on-node`, attribute `role` on entity type `X0t::Workload` not found/),
      ]),
    );
  });

  it('quotes at most 8 findings and counts the rest', () => {
    const text = Array.from({ length: 11 }, (_, index) => `@id("bad-${index}") permit (principal is X0t::Node, action, resource) when { principal.nope${index} == "" };`).join('\n');
    const lines = policyRefusal(() => engineOf([file('many.cedar', text)])).message.split('\n');
    expect(lines).toHaveLength(9);
    expect(lines[8]).toBe('(and 3 more)');
  });

  it('needs `has` before an optional attribute', () => {
    const optional = shippedSchemaWith('nodeId: String,', 'nodeId: String,\n    region?: String,');
    const unguarded = '@id("eu") permit (principal is X0t::Node, action == X0t::Action::"peer", resource) when { principal.region == "eu" };';
    expect(policyRefusal(() => optional([file('o.cedar', unguarded)])).code).toBe('ERR_POLICY_VALIDATE');
    const guarded = unguarded.replace('principal.region ==', 'principal has region && principal.region ==');
    expect(optional([file('o.cedar', guarded)]).policyIds).toEqual(['eu']);
  });

  it('keeps Cedar\'s warnings about a policy that can never apply', () => {
    const engine = engineOf([file('w.cedar', '@id("never") permit (principal is X0t::Operator, action == X0t::Action::"peer", resource);')]);
    expect(engine.warnings.length).toBeGreaterThan(0);
    expect(engine.warnings[0]).toMatch(/^w\.cedar:1:\d+: for policy `never`/);
  });
});

describe('policy ids', () => {
  it('fall back to <file name>#<position> in file order when a policy has no @id', () => {
    const anonymous = Array.from({ length: 12 }, (_, index) =>
      index === 10 ? 'forbid (principal, action == X0t::Action::"peer", resource);' : 'permit (principal, action == X0t::Action::"transit", resource);',
    );
    const engine = engineOf([file('/srv/policies/anon.cedar', anonymous.join('\n'))]);
    expect(engine.policyIds).toEqual(Array.from({ length: 12 }, (_, index) => `anon.cedar#${index + 1}`));
    const local = node('a.example', '00000001');
    expect(engine.canPeer(local, node('a.example', '00000002')).policyIds).toEqual(['anon.cedar#11']);
  });

  it('refuse an id used twice, naming both places', () => {
    const error = policyRefusal(() => engineOf([file('a.cedar', peerSame), file('b.cedar', `\n\n${peerSame}`)]));
    expect(error.code).toBe('ERR_POLICY_ID');
    expect(error.message).toBe('policy id "peer-same" is used twice: b.cedar:3:1 and a.cedar:1:1');
  });

  it.each([
    ['@id permit (principal, action, resource);', 'null'],
    ['@id("") permit (principal, action, resource);', '""'],
    ['@id("has space") permit (principal, action, resource);', '"has space"'],
    [`@id("${'a'.repeat(policyIdLengthMax + 1)}") permit (principal, action, resource);`, `"${'a'.repeat(policyIdLengthMax + 1)}"`],
  ])('refuse a malformed @id: %s', (text, shown) => {
    const error = policyRefusal(() => engineOf([file('i.cedar', `// x\n${text}`)]));
    expect(error.code).toBe('ERR_POLICY_ID');
    expect(error.message).toBe(`i.cedar:2:1: @id must be 1..${policyIdLengthMax} characters of A-Z a-z 0-9 . _ : - starting with a letter or digit, got ${shown}`);
  });

  it('accept the longest allowed id', () => {
    const id = `a${'.:_-9'.repeat(25)}xx`;
    expect(id).toHaveLength(policyIdLengthMax);
    expect(engineOf([file('l.cedar', `@id("${id}") permit (principal, action, resource);`)]).policyIds).toEqual([id]);
  });
});

describe('the schema', () => {
  it('must parse; the error names the file and line', () => {
    const error = policyRefusal(() => PolicyEngine.load({ schema: file('s.cedarschema', 'namespace X0t {\n  entity Node = { trustDomain: Strin };\n}'), policies: [] }));
    expect(error.code).toBe('ERR_POLICY_SCHEMA');
    expect(error.message).toMatch(/^s\.cedarschema:2:32: failed to resolve type: Strin; /);
  });

  it('names the file alone for a finding without a place', () => {
    const error = policyRefusal(() => PolicyEngine.load({ schema: file('c.cedarschema', 'namespace X0t { action a in [b]; action b in [a]; }'), policies: [] }));
    // Which member of the cycle Cedar names depends on its hash map order, which in WebAssembly
    // shifts with the number of maps the process made before (e.g. how many API actions exist).
    expect(error.message).toMatch(/^c\.cedarschema: cycle in action hierarchy containing `X0t::Action::"[ab]"`$/);
  });

  it('must accept every question the engine asks', () => {
    const noDrain = shippedSchemaWith('action apiDrain in [api] appliesTo { principal: [Operator, Node, Workload], resource: [Node] };', '');
    const error = policyRefusal(() => noDrain([]));
    expect(error.code).toBe('ERR_POLICY_SCHEMA');
    expect(error.message).toMatch(/^schema\.cedarschema: the schema must accept the question "X0t::Operator::"probe" apiDrain X0t::Node": /);
    const noLinks = shippedSchemaWith('action apiLinks in [api] appliesTo { principal: [Operator, Node, Workload], resource: [Node] };', '');
    expect(policyRefusal(() => noLinks([])).message).toMatch(/^schema\.cedarschema: the schema must accept the question "X0t::Operator::"probe" apiLinks X0t::Node": /);
    const numericNodeId = shippedSchemaWith('nodeId: String', 'nodeId: Long');
    expect(policyRefusal(() => numericNodeId([])).message).toMatch(/"X0t::Node::"spiffe:\/\/probe\.invalid\/node\/00000001" peer X0t::Node": entity does not conform to the schema/);
  });
});

describe('limits', () => {
  it(`refuse a schema or policy file over ${policyTextBytesMax} bytes`, () => {
    const comment = (bytes: number): string => `//${'x'.repeat(bytes - 2)}`;
    expect(engineOf([file('full.cedar', comment(policyTextBytesMax))]).policyIds).toEqual([]);
    const big = policyRefusal(() => engineOf([file('big.cedar', comment(policyTextBytesMax + 1))]));
    expect(big.code).toBe('ERR_POLICY_LIMIT');
    expect(big.message).toBe(`big.cedar: the policy file is ${policyTextBytesMax + 1} bytes, more than ${policyTextBytesMax}`);
    const schema = policyRefusal(() => PolicyEngine.load({ schema: file('s.cedarschema', comment(policyTextBytesMax + 1)), policies: [] }));
    expect(schema.message).toBe(`s.cedarschema: the schema is ${policyTextBytesMax + 1} bytes, more than ${policyTextBytesMax}`);
  });

  it(`refuse more than ${policiesMax} policies over all files`, () => {
    const half = 'permit (principal, action, resource);\n'.repeat(policiesMax / 2);
    const error = policyRefusal(() => engineOf([file('1.cedar', half), file('2.cedar', half), file('3.cedar', 'permit (principal, action, resource);')]));
    expect(error.code).toBe('ERR_POLICY_LIMIT');
    expect(error.message).toBe(`3.cedar: more than ${policiesMax} policies in all`);
  });
});
