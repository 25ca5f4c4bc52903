// How credentials are made and kept. An authKey is checked once per login, so it is hashed with
// scrypt (slow on purpose, per-key salt). A token is checked on every request, so it is 32 random
// bytes — too much entropy to guess, so a fast sha256 is enough at rest and is what we look it up by.

import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const SCRYPT_KEYLEN = 32;

export function newAuthKeyId(): string {
  return `keyId-${randomBytes(12).toString('base64url')}`;
}

export function newAuthKey(): string {
  return `secret-${randomBytes(32).toString('base64url')}`;
}

export function hashAuthKey(authKey: string): { salt: Buffer; hash: Buffer } {
  const salt = randomBytes(16);
  return { salt, hash: scryptSync(authKey, salt, SCRYPT_KEYLEN) };
}

/** scrypt on the libuv pool, so a login does not stall the requests being served meanwhile. */
export function verifyAuthKey(authKey: string, salt: Buffer, hash: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) =>
    scrypt(authKey, salt, SCRYPT_KEYLEN, (err, derived) => (err ? reject(err) : resolve(timingSafeEqual(derived, hash)))),
  );
}

let decoy: { salt: Buffer; hash: Buffer } | null = null;

/** A salt and hash that no authKey matches, checked for unknown authKeyIds so that a login takes
 *  as long whether or not the key exists. Made on first use, not at import: the CLI's other
 *  commands need not pay for a scrypt. The server makes it at start (prepareDecoy), so no request
 *  waits on a scrypt run on the event loop. */
export function decoyAuthKey(): { salt: Buffer; hash: Buffer } {
  return (decoy ??= hashAuthKey(newAuthKey()));
}

/** Makes the decoy on the libuv pool, off the event loop. */
export async function prepareDecoy(): Promise<void> {
  if (decoy) return;
  const salt = randomBytes(16);
  const hash = await new Promise<Buffer>((resolve, reject) => scrypt(newAuthKey(), salt, SCRYPT_KEYLEN, (err, d) => (err ? reject(err) : resolve(d))));
  decoy ??= { salt, hash };
}

export function newToken(): { apiKey: string; token: string } {
  return { apiKey: `api-${randomBytes(16).toString('base64url')}`, token: randomBytes(32).toString('base64url') };
}

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
