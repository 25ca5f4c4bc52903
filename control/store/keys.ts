// Auth keys and the tokens logged in with them. An authKey is kept as scrypt with a per-key salt
// (secrets.ts); a token as its sha256, looked up by it on every request.

import type { Database } from 'better-sqlite3';
import type { AuthKeyInfo, AuthResponse, NewAuthKey, Role } from '../../contracts/control-api.js';
import { decoyAuthKey, hashAuthKey, newAuthKey, newAuthKeyId, newToken, tokenHash, verifyAuthKey } from '../secrets.js';
import { fromRow, statements, type ChangeContext, type StoreContext } from './context.js';
import { StoreError } from './errors.js';

/** Who is calling: the key a valid token belongs to. */
export interface Principal {
  authKeyId: string;
  role: Role;
}

interface KeyRow {
  auth_key_id: string;
  name: string;
  role: Role;
  created_time: number;
}

export class Keys {
  private readonly s;

  constructor(private readonly c: StoreContext) {
    this.s = statements(c.db as Database, {
      insert: 'INSERT INTO api_keys (auth_key_id, name, role, salt, hash, created_time) VALUES (@auth_key_id, @name, @role, @salt, @hash, @created_time)',
      list: 'SELECT auth_key_id, name, role, created_time FROM api_keys ORDER BY created_time, auth_key_id',
      get: 'SELECT auth_key_id, name, role, created_time FROM api_keys WHERE auth_key_id = ?',
      delete: 'DELETE FROM api_keys WHERE auth_key_id = ?',
      secret: 'SELECT salt, hash FROM api_keys WHERE auth_key_id = ?',
      insertToken: 'INSERT INTO tokens (token_hash, api_key, auth_key_id, expires_at) VALUES (?, ?, ?, ?)',
      token: 'SELECT t.api_key, t.expires_at, k.auth_key_id, k.role FROM tokens t JOIN api_keys k ON k.auth_key_id = t.auth_key_id WHERE t.token_hash = ?',
      purgeTokens: 'DELETE FROM tokens WHERE expires_at <= ?',
    });
  }

  /** A new API key; the secret is returned once and kept only as a scrypt hash. */
  create(role: Role, name: string, ctx: ChangeContext): NewAuthKey {
    const authKeyId = newAuthKeyId();
    const authKey = newAuthKey();
    const { salt, hash } = hashAuthKey(authKey);
    const info: AuthKeyInfo = { authKeyId, name, role, createdTime: this.c.now() };
    this.c.db.transaction(() => {
      this.s.insert.run({ auth_key_id: authKeyId, name, role, salt, hash, created_time: info.createdTime });
      this.c.audit(ctx, 'create_auth_key', 'auth_key', authKeyId, null, info);
    })();
    return { authKeyId, authKey };
  }

  list(): AuthKeyInfo[] {
    return (this.s.list.all() as KeyRow[]).map(toInfo);
  }

  /** Deletes the key and, by cascade, every token it was issued. */
  delete(authKeyId: string, ctx: ChangeContext): void {
    this.c.db.transaction(() => {
      const row = this.s.get.get(authKeyId) as KeyRow | undefined;
      if (!row) throw new StoreError('key-not-found', `No such auth key: ${authKeyId}`);
      this.s.delete.run(authKeyId);
      this.c.audit(ctx, 'delete_auth_key', 'auth_key', authKeyId, toInfo(row), null);
    })();
  }

  /** A token for a valid authKeyId/authKey pair, or null. An unknown authKeyId costs the same scrypt.
   *  Logins are not audited: they change no state the API manages (they are counted in /metrics). */
  async login(authKeyId: string, authKey: string, timeoutSeconds: number): Promise<AuthResponse | null> {
    const key = this.s.secret.get(authKeyId) as { salt: Buffer; hash: Buffer } | undefined;
    const { salt, hash } = key ?? decoyAuthKey();
    const ok = await verifyAuthKey(authKey, salt, hash);
    if (!key || !ok) return null;
    const { apiKey, token } = newToken();
    // The key may have been deleted while scrypt ran: the foreign key then refuses the token.
    try {
      this.s.insertToken.run(tokenHash(token), apiKey, authKeyId, this.c.now() + timeoutSeconds * 1000);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return null;
      throw err;
    }
    return { apiKey, token, operatorId: this.c.operatorId };
  }

  /** The key behind an unexpired token whose apiKey matches, or null. One indexed lookup: this runs on every request. */
  principal(apiKey: string, token: string): Principal | null {
    const row = this.s.token.get(tokenHash(token)) as { api_key: string; expires_at: number; auth_key_id: string; role: Role } | undefined;
    if (!row || row.api_key !== apiKey || row.expires_at <= this.c.now()) return null;
    return { authKeyId: row.auth_key_id, role: row.role };
  }

  purgeTokens(): number {
    return this.s.purgeTokens.run(this.c.now()).changes;
  }
}

const toInfo = (r: KeyRow): AuthKeyInfo => fromRow(r);
