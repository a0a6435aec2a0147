/**
 * Token authentication for `lifeline serve --auth-tokens-file` (issue 17): the library's
 * `authenticate` (upgrade, HS-4) and `authenticateHello` (Hello.token, HS-12) hooks over a file
 * of static tokens, so the command-line server can refuse strangers without application code.
 *
 * A client proves itself either way: an `Authorization: Bearer <token>` upgrade header (Node
 * clients, proxies), or Hello.token (browsers, which cannot set upgrade headers; `connect --token`).
 * A wrong bearer header is refused before the upgrade (401, HS-4); a missing or wrong Hello.token
 * after it (close 4101 UNAUTHORIZED, HS-12). Tokens are never logged (SEC-2).
 */
import type { IncomingMessage } from 'node:http';
import type { LifelineServerOptions } from './options.js';
import type { Principal } from './types.js';

/** The upgrade principal of a connection that sent no Authorization header: Hello decides. */
const UNPROVEN = '\u0000unproven';

/**
 * Parse a tokens file: one `<token> <principal>` per line, separated by white space; blank lines
 * and lines starting with `#` are skipped. Throws with the line number on anything else, never
 * quoting the token.
 */
export function parseTokensFile(text: string): Map<string, Principal> {
  const tokens = new Map<string, Principal>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) throw new Error(`line ${i + 1}: expected "<token> <principal>" (two fields), got ${parts.length}`);
    const [token, principal] = parts as [string, string];
    if (tokens.has(token)) throw new Error(`line ${i + 1}: this token is already listed`);
    tokens.set(token, principal);
  });
  if (tokens.size === 0) throw new Error('no tokens: expected lines of "<token> <principal>"');
  return tokens;
}

/** The authentication hooks for a token table. */
export function tokenAuthentication(tokens: ReadonlyMap<string, Principal>): Pick<LifelineServerOptions, 'authenticate' | 'authenticateHello'> {
  return {
    authenticate: (req: IncomingMessage) => {
      const header = req.headers.authorization;
      if (header === undefined) return UNPROVEN;
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      return m ? tokens.get(m[1] as string) : undefined; // HS-4: 401
    },
    // HS-12: a connection the upgrade did not authenticate needs a known Hello.token.
    authenticateHello: (token: string, upgradePrincipal: Principal) => (upgradePrincipal !== UNPROVEN ? upgradePrincipal : tokens.get(token)),
  };
}
