/**
 * Pod identity mode end to end against the real OpenBao's `kubernetes` auth
 * method: OpenBao asks the test API server's TokenReview about each login's
 * JWT, and its role binds service-account names and namespaces.
 */
import { describeIdentityCases } from "./pod-identity-cases.ts";

describeIdentityCases("kubernetes", {
  otherNamespace: /namespace not authorized/,
  expired: /invalid expiration time \(exp\) claim: token is expired/,
  wrongAudience: /invalid audience \(aud\) claim: audience claim does not match any expected audience/,
});
