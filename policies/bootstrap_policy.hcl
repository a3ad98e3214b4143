# What a person (or a CI job) needs to run `vaulttmpfs bootstrap` on a node:
# create the node's generator token. Nothing else: the driver itself never
# uses this policy.
#
#   vault policy write vaulttmpfs-bootstrap policies/bootstrap_policy.hcl
#   vault write auth/ldap/groups/k8s-node-admins policies=vaulttmpfs-bootstrap
#
# Grant it with care: whoever holds it can mint generator tokens, and a
# generator token can mint pod tokens with every policy its role allows.

# The generator token itself. create-orphan, so the token does not die with the
# operator's own token (bootstrap revokes its LDAP login token when done).
# "sudo" is required by Vault for two things bootstrap does:
#   - a periodic token ("root or sudo privileges required to create periodic
#     token"), which the driver can renew forever;
#   - giving it the creator policy (applications_token_creator) that the
#     operator does not hold ("child policies must be subset of parent").
# Vault still refuses to let a non-root caller create a root token.
path "auth/token/create-orphan" {
  capabilities = ["create", "update", "sudo"]
}

# `vault login` and `vault token lookup` read the caller's own token. Vault's
# default policy grants this too; it is listed so the policy also works on
# tokens created with no_default_policy.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

# Bootstrap revokes its LDAP login token once the generator token exists, so
# no operator session is left behind on the node. Also in the default policy.
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# `bootstrap --revoke-only` reads the revoke-only policy's text to prove the
# node's new token can mint nothing (it refuses to write a token it cannot
# prove). Name here any other policy you give that token with --policy.
path "sys/policies/acl/vaulttmpfs_revoke_only" {
  capabilities = ["read"]
}
