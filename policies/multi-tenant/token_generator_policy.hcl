# The generator's rights for a multi-tenant cluster where every namespace has
# its own token role `k8s-<namespace>` (VAULTTMPFS_ROLE_NAME=k8s-{namespace}).
# The glob lets the node mint against any namespace's role; the node itself
# picks the role from the pod's namespace (which the kubelet, not the pod
# author, supplies), and each role's allowed policies bound what it can get.

path "auth/token/create/k8s-*" {
  capabilities = ["create", "update"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/revoke-accessor" {
  capabilities = ["update"]
}

path "sys/capabilities-self" {
  capabilities = ["update"]
}

path "auth/token/roles/k8s-*" {
  capabilities = ["read"]
}
