#!/bin/sh
# One token role per namespace, each allowed only its own policies
# (`<namespace>.*`: a dot, because namespace names may contain '-' and one
# namespace's name can be the prefix of another's) plus the shared ones. Run with a Vault admin token:
#   VAULT_ADDR=... VAULT_TOKEN=... sh setup.sh team-a team-b
# Then give every node the generator policy in this directory and set, in the
# kubelet's environment:
#   VAULTTMPFS_ROLE_NAME=k8s-{namespace}
#   VAULTTMPFS_ALLOWED_POLICIES={namespace}.*,shared-read
set -eu
vault policy write applications_token_creator "$(dirname "$0")/token_generator_policy.hcl"
for ns in "$@"; do
  vault write "auth/token/roles/k8s-$ns" \
    allowed_policies_glob="$ns.*" \
    allowed_policies="shared-read" \
    disallowed_policies="root,admin" \
    orphan=true renewable=true token_period=1h
done
