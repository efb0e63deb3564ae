import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { checkParseSchema, policySetTextToParts, policyToJson, validate, type DetailedError } from '@cedar-policy/cedar-wasm/nodejs';
import { PolicyError, PolicyErrorCode, type PolicyErrorCodeValue } from './errors.js';

/**
 * Turns a schema and policy files into a policy set keyed by readable policy ids, checked the
 * way Cedar checks them (parse, then strict validation), with every finding pointed at its
 * file, line and column. Nothing here keeps state; the engine preparses what this returns.
 */

/** Most bytes of the schema or of one policy file. */
export const policyTextBytesMax = 1024 * 1024;
/** Most policies in one policy set, over all files. */
export const policiesMax = 10_000;
/** Most characters of a policy id given by @id. */
export const policyIdLengthMax = 128;
/** Most Cedar findings quoted in one error message; the rest are only counted. */
export const findingsQuotedMax = 8;

const policyIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** Text of one file: a name for messages (usually its path) and its content. */
export interface PolicySource {
  readonly source: string;
  readonly text: string;
}

/** One policy: its id, its text (a verbatim slice of its file) and where that slice starts. */
export interface CompiledPolicy {
  readonly id: string;
  readonly text: string;
  readonly file: PolicySource;
  /** UTF-8 byte offset of `text` in `file.text` (Cedar reports positions in bytes). */
  readonly byteOffset: number;
}

/** A policy set that passed strict validation, and the warnings Cedar had about it. */
export interface CompiledPolicySet {
  readonly policies: readonly CompiledPolicy[];
  readonly warnings: readonly string[];
}

function fail(code: PolicyErrorCodeValue, findings: readonly string[]): never {
  const shown = findings.slice(0, findingsQuotedMax);
  const more = findings.length > shown.length ? `\n(and ${findings.length - shown.length} more)` : '';
  throw new PolicyError(code, `${shown.join('\n')}${more}`);
}

/** `file:line:column` (1-based) of byte `byteOffset` of `file`. */
export function placeOf(file: PolicySource, byteOffset: number): string {
  const before = Buffer.from(file.text, 'utf8').subarray(0, byteOffset).toString('utf8');
  const lines = before.split('\n');
  return `${file.source}:${lines.length}:${lines[lines.length - 1]!.length + 1}`;
}

/** One Cedar finding as `file:line:column: message (label); help`, positions counted from `byteOffset`. */
export function describeFinding(error: DetailedError, file: PolicySource, byteOffset: number): string {
  const location = error.sourceLocations?.[0];
  const place = location === undefined ? file.source : placeOf(file, byteOffset + location.start);
  const label = typeof location?.label === 'string' ? ` (${location.label})` : '';
  const help = typeof error.help === 'string' ? `; ${error.help}` : '';
  return `${place}: ${error.message}${label}${help}`;
}

function checkSize(file: PolicySource, what: string): void {
  const bytes = Buffer.byteLength(file.text, 'utf8');
  if (bytes > policyTextBytesMax) fail(PolicyErrorCode.ERR_POLICY_LIMIT, [`${file.source}: ${what} is ${bytes} bytes, more than ${policyTextBytesMax}`]);
}

/** Checks that `schema` parses as a Cedar schema; ERR_POLICY_SCHEMA with Cedar's findings otherwise. */
export function checkSchema(schema: PolicySource): void {
  checkSize(schema, 'the schema');
  const answer = checkParseSchema(schema.text);
  if (answer.type === 'failure') fail(PolicyErrorCode.ERR_POLICY_SCHEMA, answer.errors.map((error) => describeFinding(error, schema, 0)));
}

/**
 * Cedar names the policies of a text policy0, policy1, ... in the order they appear, and
 * policySetTextToParts returns them sorted by that name as a string (policy10 before policy2).
 * This puts them back in the order of the file.
 */
function inFileOrder(sorted: readonly string[]): string[] {
  const names = sorted.map((_, index) => `policy${index}`).sort();
  const ordered = new Array<string>(sorted.length);
  names.forEach((name, rank) => {
    ordered[Number(name.slice('policy'.length))] = sorted[rank]!;
  });
  return ordered;
}

/** The policy's @id annotation, or `<file name>#<position in file>` when it has none. */
function policyIdOf(text: string, file: PolicySource, position: number, byteOffset: number): string {
  const answer = policyToJson(text);
  assert(answer.type === 'success', 'a policy that parsed within its file parses alone');
  const id = answer.json.annotations?.['id'] as string | null | undefined;
  if (id === undefined) return `${basename(file.source)}#${position}`;
  if (id === null || id.length > policyIdLengthMax || !policyIdPattern.test(id)) {
    const rule = `@id must be 1..${policyIdLengthMax} characters of A-Z a-z 0-9 . _ : - starting with a letter or digit, got ${JSON.stringify(id)}`;
    fail(PolicyErrorCode.ERR_POLICY_ID, [`${placeOf(file, byteOffset)}: ${rule}`]);
  }
  return id;
}

/** The policies of one file, in file order; ERR_POLICY_PARSE names the file, line and column. */
function parseFile(file: PolicySource, countBefore: number): CompiledPolicy[] {
  checkSize(file, 'the policy file');
  const answer = policySetTextToParts(file.text);
  if (answer.type === 'failure') fail(PolicyErrorCode.ERR_POLICY_PARSE, answer.errors.map((error) => describeFinding(error, file, 0)));
  if (answer.policy_templates.length > 0) {
    fail(PolicyErrorCode.ERR_POLICY_PARSE, [`${file.source}: templates (policies with ?principal or ?resource slots) are not supported`]);
  }
  if (countBefore + answer.policies.length > policiesMax) fail(PolicyErrorCode.ERR_POLICY_LIMIT, [`${file.source}: more than ${policiesMax} policies in all`]);
  let searchFrom = 0;
  return inFileOrder(answer.policies).map((text, index) => {
    const at = file.text.indexOf(text, searchFrom);
    assert(at >= 0, `Cedar returns each policy of ${file.source} as a verbatim slice of the file, in file order`);
    searchFrom = at + text.length;
    const byteOffset = Buffer.byteLength(file.text.slice(0, at), 'utf8');
    return { id: policyIdOf(text, file, index + 1, byteOffset), text, file, byteOffset };
  });
}

/** Parses every file and checks policy ids; ERR_POLICY_PARSE, ERR_POLICY_ID or ERR_POLICY_LIMIT. */
export function parsePolicies(files: readonly PolicySource[]): CompiledPolicy[] {
  const byId = new Map<string, CompiledPolicy>();
  for (const file of files) {
    for (const policy of parseFile(file, byId.size)) {
      const earlier = byId.get(policy.id);
      if (earlier !== undefined) {
        const places = `${placeOf(policy.file, policy.byteOffset)} and ${placeOf(earlier.file, earlier.byteOffset)}`;
        fail(PolicyErrorCode.ERR_POLICY_ID, [`policy id ${JSON.stringify(policy.id)} is used twice: ${places}`]);
      }
      byId.set(policy.id, policy);
    }
  }
  return [...byId.values()];
}

/** The policy set as Cedar takes it: policy text keyed by policy id. */
export function policyRecord(policies: readonly CompiledPolicy[]): Record<string, string> {
  return Object.fromEntries(policies.map((policy) => [policy.id, policy.text]));
}

/** Validates `policies` against `schema` in strict mode; ERR_POLICY_VALIDATE names each policy, file and line. */
export function validatePolicies(schema: PolicySource, policies: readonly CompiledPolicy[]): CompiledPolicySet {
  const byId = new Map(policies.map((policy) => [policy.id, policy]));
  const answer = validate({ schema: schema.text, policies: { staticPolicies: policyRecord(policies) }, validationSettings: { mode: 'strict' } });
  // Both inputs parsed a moment ago, so only a Cedar that disagrees with itself fails here.
  assert(answer.type === 'success', 'strict validation runs on a schema and policies that parsed');
  const describe = (finding: { policyId: string; error: DetailedError }): string => {
    const policy = byId.get(finding.policyId)!;
    return describeFinding(finding.error, policy.file, policy.byteOffset);
  };
  if (answer.validationErrors.length > 0) fail(PolicyErrorCode.ERR_POLICY_VALIDATE, answer.validationErrors.map(describe));
  const warnings = [...answer.validationWarnings.map(describe), ...answer.otherWarnings.map((warning) => describeFinding(warning, schema, 0))];
  return { policies, warnings };
}
