# vaulttmpfs_revoke_only: the rights of a node's token in pod identity mode
# (the token `vaulttmpfs bootstrap --revoke-only` writes to
# /etc/kubernetes/vaulttoken-revoke). Pods log in with their own
# service-account tokens, so the node needs no right to mint anything: it
# only revokes what its pods received, when they go.

# Revoke a pod's login token at unmount, in gc and when a mount fails.
# Vault checks nothing beyond this capability: the token could revoke any
# token whose accessor it learnt (denial of service, never access), which is
# why accessors stay in the node's root-only state dir.
path "auth/token/revoke-accessor" {
  capabilities = ["update"]
}

# Check a wrapped login against the pod's vault/policies without spending
# the pod's single unwrap: a lookup by accessor shows a token's policies and
# metadata, never its ID. Used only when a pod sets vault/policies.
path "auth/token/lookup-accessor" {
  capabilities = ["update"]
}

# Keep itself alive (a periodic token: `vaulttmpfs renew-token`, `agent`,
# and at most one renew-self per half-TTL from mounts).
path "auth/token/renew-self" {
  capabilities = ["update"]
}

# `vaulttmpfs doctor` and `renew-token --min-ttl` read its own TTL.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

# Take itself back: bootstrap revokes a token it refuses to write, and an
# operator may retire a node's token from the node.
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# `vaulttmpfs doctor` asks Vault what this token may do. The token has no
# `default` policy (bootstrap --revoke-only leaves it out, so that everything
# it may do is written here), so this one right of `default` is repeated.
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# Nothing else: no auth/token/create*, no auth/<mount>/role, no secrets.
# `vaulttmpfs doctor` asks Vault (sys/capabilities-self, above) that every
# create path is denied to this token.
