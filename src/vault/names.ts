/** Vault's pattern for a token role name (`role_name` in auth/token/create/:role_name). */
export function isRoleName(name: string): boolean {
  return name.length <= 128 && /^\w([\w.-]*\w)?$/.test(name);
}
