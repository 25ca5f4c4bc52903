// Secrets out of what is logged and reported: a URL's password (http://user:secret@host) and the
// values of query parameters that carry credentials. Every URL tapwatch logs, and every error text that
// may quote one (an upstream failure, a webhook's), goes through here first.

const SECRET_PARAM = /key|token|secret|password|passwd|signature|sig|auth/i;
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi;

/** The URL (absolute, or a request's path and query) with its password and secret query values replaced
 *  by '***'; text that is not a URL comes back as it is. */
export function redactUrl(url: string): string {
  const relative = url.startsWith('/');
  let u: URL;
  try {
    u = new URL(url, relative ? 'http://relative' : undefined);
  } catch {
    return url;
  }
  let changed = false;
  if (u.password) {
    u.password = '***';
    changed = true;
  }
  for (const name of [...u.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) {
      u.searchParams.set(name, '***');
      changed = true;
    }
  }
  // Unchanged, the text is logged as it came (URL would normalise it).
  if (!changed) return url;
  return relative ? `${u.pathname}${u.search.replace(/%2A/g, '*')}${u.hash}` : u.href.replace(/%2A/g, '*');
}

/** Every URL inside `text`, redacted. */
export function redactUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}
