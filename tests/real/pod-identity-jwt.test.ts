/**
 * Pod identity mode end to end against the real OpenBao's `jwt` auth method:
 * OpenBao checks the service-account JWT's signature offline with the test
 * API server's public key (jwt_validation_pubkeys), and its role binds the
 * namespace with bound_claims.
 */
import { describeIdentityCases } from "./pod-identity-cases.ts";

describeIdentityCases("jwt", {
  otherNamespace: /error validating claims: claim "\/kubernetes\.io\/namespace" does not match any associated bound claim values/,
  expired: /error validating token: invalid expiration time \(exp\) claim: token is expired/,
  wrongAudience: /error validating token: invalid audience \(aud\) claim: audience claim does not match any expected audience/,
});
