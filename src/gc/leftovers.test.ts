import { expect, test } from "bun:test";
import { salvageAccessors, salvageDir } from "./leftovers.ts";

test("accessors are salvaged from whole, cut and garbled journal text", () => {
  expect(salvageAccessors('{"accessor":"abc123","wrappingAccessor":"w9"}')).toEqual({ accessor: "abc123" });
  expect(salvageAccessors('{"version":1,"accessor":"abc123","wrappingAcc')).toEqual({ accessor: "abc123" });
  expect(salvageAccessors('\u0000\u0000{"accessor" : "x.y-z_1"}garbage')).toEqual({ accessor: "x.y-z_1" });
});

test("a value cut inside the accessor salvages nothing (a partial accessor would revoke nothing useful)", () => {
  expect(salvageAccessors('{"accessor":"abc1')).toBeUndefined();
  expect(salvageAccessors("")).toBeUndefined();
  expect(salvageAccessors('{"accessor":"a b"}')).toBeUndefined();
});

test("the dir, when it can be read", () => {
  expect(salvageDir('{"dir":"/var/lib/kubelet/pods/u/volumes/d~v/vault","acc')).toBe("/var/lib/kubelet/pods/u/volumes/d~v/vault");
  expect(salvageDir('{"dir":"/var/lib/kub')).toBeUndefined();
});
