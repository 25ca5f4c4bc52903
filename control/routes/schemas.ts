// What every route's schema shares. The bodies, responses, parameters and queries themselves are
// defined once, in contracts/control-api.ts; the resources there are registered as shared schemas
// (SHARED_SCHEMAS: the OpenAPI document's components) and referred to here by $id.

export const ref = (id: 'Error' | 'Subscriber' | 'Group' | 'AuditEntry' | 'AuthKey') => ({ $ref: `${id}#` });

/** Added to every route's responses. */
export const errorResponses = { '4xx': ref('Error'), '5xx': ref('Error') };

/** Routes that need X-Soracom-API-Key and X-Soracom-Token (the OpenAPI security requirement). */
export const authenticated = [{ soracomApiKey: [], soracomToken: [] }];
