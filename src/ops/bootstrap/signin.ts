/**
 * How the person running `bootstrap` proves who they are: `VAULT_TOKEN` when
 * set, else an LDAP login typed at the terminal. The password is read with
 * echo off from /dev/tty: never argv (visible in ps), never the environment.
 */
import { DriverError, errorMessage } from "../../errors.ts";
import type { VaultApi } from "../../vault/api.ts";
import { UsageError } from "../flags.ts";
import type { Prompter } from "./terminal.ts";

export const NO_CREDENTIALS =
  "no VAULT_TOKEN and no terminal: set VAULT_TOKEN or run it from a terminal for LDAP login";

export interface Session {
  readonly token: string;
  /** The LDAP user, recorded in the generator token's `creator` metadata; `undefined` with VAULT_TOKEN. */
  readonly creator: string | undefined;
  /** For the report: `VAULT_TOKEN` or `LDAP (auth/ldap) as alice`. */
  readonly via: string;
  /** Ends the session: revokes the LDAP login token. Resolves to a warning when that failed. */
  end(): Promise<string | undefined>;
}

export interface SignInOptions {
  readonly operatorToken: string | undefined;
  readonly ldapMount: string;
  readonly username: string | undefined;
}

export async function signIn(api: VaultApi, opts: SignInOptions, term: Prompter | null): Promise<Session> {
  if (opts.operatorToken !== undefined) {
    return { token: opts.operatorToken, creator: undefined, via: "VAULT_TOKEN", end: async () => undefined };
  }
  if (term === null) throw new DriverError(NO_CREDENTIALS);
  const username = opts.username ?? (await term.ask(`LDAP username (auth/${opts.ldapMount})`));
  if (username === "") throw new UsageError("no LDAP username given");
  const password = await term.askHidden(`Password for ${username}`);
  // An empty password is refused here: some LDAP servers treat it as an anonymous bind.
  if (password === "") throw new DriverError("no password given; nothing was sent to Vault");
  let loginToken: string;
  try {
    loginToken = (await api.ldapLogin(opts.ldapMount, username, password)).client_token;
  } catch (err) {
    throw new DriverError(`LDAP login as ${JSON.stringify(username)} on auth/${opts.ldapMount} failed: ${errorMessage(err)}`);
  }
  return {
    token: loginToken,
    creator: username,
    via: `LDAP (auth/${opts.ldapMount}) as ${username}`,
    // The generator token is an orphan, so revoking the login token that made it leaves it alone.
    async end() {
      try {
        await api.revokeSelf(loginToken);
        return undefined;
      } catch (err) {
        return `could not revoke the LDAP login token (it will expire on its own): ${errorMessage(err)}`;
      }
    },
  };
}
