# applications_token_creator: the rights of each node's generator token
# (the token `vaulttmpfs bootstrap` writes to /etc/kubernetes/vaulttoken).
# It can mint pod tokens against the token role, keep itself alive, and
# revoke what it minted. It can read no secret itself.

# Mint a pod token against the role. The role, not this policy, decides
# which policies a pod token may carry (allowed_policies, disallowed_policies),
# and whether it is an orphan with a period. Name the role: `auth/token/create`
# without a role would let the node mint tokens with its own policies.
path "auth/token/create/applications" {
  capabilities = ["create", "update"]
}

# Keep the generator alive: `renew-self` on mount (amortised: only when less
# than half of its TTL is left) and from `vaulttmpfs renew-token`/`agent`.
path "auth/token/renew-self" {
  capabilities = ["update"]
}

# `vaulttmpfs doctor` and `renew-token --min-ttl` read the generator's TTL.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

# Revoke a pod's token when its pod goes (unmount, gc, a failed mount's
# rollback). Vault checks nothing beyond this capability, so a node could
# revoke other tokens if it learnt their accessors: accessors are kept only in
# the node's root-only state dir. Vault has no narrower endpoint for this.
path "auth/token/revoke-accessor" {
  capabilities = ["update"]
}

# `vaulttmpfs doctor` checks the rights above and the role's settings.
path "sys/capabilities-self" {
  capabilities = ["update"]
}
path "auth/token/roles/applications" {
  capabilities = ["read"]
}
