import { expect, test } from "bun:test";
import { mountAt, mountsBelow, parseMountInfo } from "./mountinfo.ts";

const SAMPLE = [
  "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw",
  "36 22 0:31 / /var/lib/kubelet/pods/u1/volumes/cloudwatt~vaulttmpfs/my\\040vol rw,nosuid,nodev,noexec,noatime - tmpfs vaulttmpfs rw,size=1024k,mode=755",
  "37 22 0:32 / /var/lib/kubelet/pods/u1/volumes/cloudwatt~vaulttmpfs/v2 ro,nosuid master:3 - tmpfs vaulttmpfs ro,size=1024k,mode=750,uid=1000,gid=2000",
  "38 37 0:33 / /var/lib/kubelet/pods/u1/volumes/cloudwatt~vaulttmpfs/v2/inner rw - tmpfs x rw",
  "garbage line",
].join("\n");

test("parses fields, optional fields and octal escapes", () => {
  const entries = parseMountInfo(SAMPLE);
  expect(entries).toHaveLength(4);
  const vol = entries[1]!;
  expect(vol.mountPoint).toBe("/var/lib/kubelet/pods/u1/volumes/cloudwatt~vaulttmpfs/my vol");
  expect(vol.fsType).toBe("tmpfs");
  expect(vol.source).toBe("vaulttmpfs");
  expect(vol.mountOptions).toContain("noexec");
  expect(vol.superOptions).toContain("size=1024k");
  expect(entries[2]!.mountOptions[0]).toBe("ro");
  expect(entries[2]!.superOptions).toContain("gid=2000");
});

test("mountAt picks the top of a stack and mountsBelow finds nested mounts", () => {
  const entries = parseMountInfo(`${SAMPLE}\n39 36 0:40 / /var/lib/kubelet/pods/u1/volumes/cloudwatt~vaulttmpfs/v2 rw - ext4 /dev/x rw`);
  expect(mountAt(entries, "/var/lib/kubelet/pods/u1/volumes/cloudwatt~vaulttmpfs/v2")?.fsType).toBe("ext4");
  expect(mountAt(entries, "/nope")).toBeUndefined();
  expect(mountsBelow(entries, "/var/lib/kubelet/pods/u1/volumes/cloudwatt~vaulttmpfs/v2").map((e) => e.source)).toEqual(["x"]);
  expect(mountsBelow(entries, "/var/lib/kubelet/pods/u1/volumes/cloudwatt~vaulttmpfs/v")).toEqual([]);
});
