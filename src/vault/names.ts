/** Vault's pattern for a token role name (`role_name` in auth/token/create/:role_name). */
/** A Vault auth mount path (`ldap`, `k8s/prod`): segments of letters, digits, `_`, `-`, `.`, never `.`/`..` (it goes into the URL path). */
export function isAuthMount(path: string): boolean {
  return path.length <= 200 && path.split("/").every((seg) => /^[\w.-]+$/.test(seg) && !/^\.{1,2}$/.test(seg));
}

export function isRoleName(name: string): boolean {
  return name.length <= 128 && /^\w([\w.-]*\w)?$/.test(name);
}
