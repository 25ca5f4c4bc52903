// For tests and in-process callers (tapwatch demo): a key of a role, logged in, as the headers
// that authenticate as it.

import type { Role } from '../../control/model.js';
import type { ControlServer } from '../../control/server.js';

export async function loginHeaders(server: ControlServer, role: Role): Promise<Record<string, string>> {
  const { authKeyId, authKey } = server.store.createKey(role, `${role} key`);
  const res = await server.app.inject({ method: 'POST', url: '/v1/auth', payload: { authKeyId, authKey } });
  if (res.statusCode !== 200) throw new Error(`login as ${role}: ${res.statusCode} ${res.body}`);
  const { apiKey, token } = res.json() as { apiKey: string; token: string };
  return { 'x-soracom-api-key': apiKey, 'x-soracom-token': token };
}
