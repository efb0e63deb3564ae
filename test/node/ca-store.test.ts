import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initCaDirectory, openCaDirectory, saveTokens } from '../../src/node/ca-store.js';
import { seeded } from '../seeded.js';

const t0 = Date.UTC(2026, 10, 27, 12);
const pass = 'correct horse battery staple';
const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;


function freshDir(): string {
  return join(mkdtempSync(join(tmpdir(), 'x0t-ca-')), 'ca');
}

describe('CA directory', () => {
  it('creates ca.json and tokens.json, private to the owner, and reopens to the same CA and network key', () => {
    const dir = freshDir();
    const created = initCaDirectory(dir, 'mesh.test', pass, t0, seeded('store'));
    expect(statSync(join(dir, 'ca.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'tokens.json')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dir, 'ca.json'), 'utf8')).not.toContain(Buffer.from(created.ca.ed25519PrivateKey).toString('base64'));
    const opened = openCaDirectory(dir, pass, t0);
    expect(opened.ca.certificateDer).toEqual(created.ca.certificateDer);
    expect(opened.networkKey).toEqual(created.networkKey);
  });

  it('keeps issued tokens across reopening', () => {
    const dir = freshDir();
    const { tokens } = initCaDirectory(dir, 'mesh.test', pass, t0, seeded('tokens'));
    const { token } = tokens.issue(t0, 600_000, seeded('token'));
    saveTokens(dir, tokens);
    expect(openCaDirectory(dir, pass, t0).tokens.check(token, t0 + 1).usedAtMs).toBeNull();
  });

  it('refuses a wrong passphrase with ERR_CA_PASSPHRASE and a short one at init', () => {
    const dir = freshDir();
    initCaDirectory(dir, 'mesh.test', pass, t0, seeded('wrong'));
    expect(() => openCaDirectory(dir, 'not the passphrase', t0)).toThrow(codeOf('ERR_CA_PASSPHRASE'));
    expect(() => openCaDirectory(dir, 'not the passphrase', t0)).toThrow(/wrong passphrase for the CA keys/);
    const other = freshDir();
    expect(() => initCaDirectory(other, 'mesh.test', 'short', t0, seeded('short'))).toThrow(/at least 12 characters, got 5/);
    expect(existsSync(other)).toBe(false);
  });

  it('refuses to overwrite an existing CA, and writes nothing for a bad trust domain', () => {
    const dir = freshDir();
    initCaDirectory(dir, 'mesh.test', pass, t0, seeded('twice'));
    const before = readFileSync(join(dir, 'ca.json'), 'utf8');
    expect(() => initCaDirectory(dir, 'mesh.test', pass, t0, seeded('again'))).toThrow(codeOf('ERR_CA_FILES'));
    expect(readFileSync(join(dir, 'ca.json'), 'utf8')).toBe(before);
    const bad = freshDir();
    expect(() => initCaDirectory(bad, 'Mesh.Test', pass, t0, seeded('bad'))).toThrow(/trust domain may hold only/);
    expect(existsSync(bad)).toBe(false);
  });

  it('names the file and field of a missing or malformed CA directory', () => {
    const dir = freshDir();
    expect(() => openCaDirectory(dir, pass, t0)).toThrow(/ca\.json: not found \(run x0tta6bl4 ca init first\)/);
    initCaDirectory(dir, 'mesh.test', pass, t0, seeded('malformed'));
    const file = JSON.parse(readFileSync(join(dir, 'ca.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'ca.json'), JSON.stringify({ ...file, version: 2 }));
    expect(() => openCaDirectory(dir, pass, t0)).toThrow(/ca\.json: field version/);
    writeFileSync(join(dir, 'ca.json'), '{not json');
    expect(() => openCaDirectory(dir, pass, t0)).toThrow(codeOf('ERR_CA_FILES'));
  });
});
