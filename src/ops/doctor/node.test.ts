import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Tmpfs } from "../../volume/tmpfs.ts";
import { checkInstall, checkMountTest, checkMountTools, checkStateDir, executablePath, sameContents } from "./node.ts";
import { parseDriverName } from "../install/name.ts";

const root = mkdtempSync(join(tmpdir(), "vaulttmpfs-doctor-unit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("checkInstall", () => {
  const pluginDir = join(root, "plugins");
  const loc = { pluginDir, driver: parseDriverName("cloudwatt~vaulttmpfs") };
  const exe = executablePath(loc);
  const self = join(root, "self-binary");
  writeFileSync(self, "#!/bin/sh\necho build-1\n", { mode: 0o755 });

  test("missing: fail with the install command", () => {
    const r = checkInstall(loc, { path: self, compiled: true });
    expect(r).toMatchObject({ status: "fail", detail: `not installed: ${exe} does not exist` });
    expect(r.fix).toContain(`vaulttmpfs install --plugin-dir ${pluginDir} --driver cloudwatt~vaulttmpfs`);
  });

  test("identical copy: ok; not executable or world-writable: fail; another build: warn", () => {
    mkdirSync(join(pluginDir, "cloudwatt~vaulttmpfs"), { recursive: true });
    copyFileSync(self, exe);
    chmodSync(exe, 0o755);
    expect(checkInstall(loc, { path: self, compiled: true })).toMatchObject({ status: "ok" });
    chmodSync(exe, 0o644);
    expect(checkInstall(loc, { path: self, compiled: true }).detail).toContain("not executable (mode 0644)");
    chmodSync(exe, 0o777);
    expect(checkInstall(loc, { path: self, compiled: true }).detail).toContain("world-writable");
    chmodSync(exe, 0o755);
    writeFileSync(exe, "#!/bin/sh\necho build-2\n");
    expect(checkInstall(loc, { path: self, compiled: true })).toMatchObject({ status: "warn" });
  });

  test("running from source: no identity check, said so", () => {
    const r = checkInstall(loc, { path: "/usr/local/bin/bun", compiled: false });
    expect(r.status).toBe("ok");
    expect(r.detail).toContain("running from source");
  });
});

test("sameContents: same size, different byte at the end of a >1 MiB file", () => {
  const a = join(root, "big-a");
  const b = join(root, "big-b");
  const bytes = Buffer.alloc((1 << 20) + 10, 7);
  writeFileSync(a, bytes);
  writeFileSync(b, bytes);
  expect(sameContents(a, b)).toBe(true);
  bytes[bytes.length - 1] = 8;
  writeFileSync(b, bytes);
  expect(sameContents(a, b)).toBe(false);
});

describe("checkStateDir", () => {
  test.each([
    ["missing: the driver makes it later", null, "warn"],
    ["0700 and writable", 0o700, "ok"],
    ["0755: journal readable by others", 0o755, "warn"],
  ] as const)("%s", (_name, mode, status) => {
    const dir = join(root, `state-${status}-${mode}`);
    if (mode !== null) {
      mkdirSync(dir);
      chmodSync(dir, mode);
    }
    expect(checkStateDir(dir).status).toBe(status);
    if (mode !== null) expect(readdirSync(dir)).toEqual([]); // the write probe cleaned up
  });

  test.each([
    ["0777: anyone can plant entries", (d: string) => chmodSync(d, 0o777), /mode 0777, writable by group or others/],
    ["owned by another uid", (d: string) => chownSync(d, 65534, 65534), /belongs to uid 65534/],
    ["volumes/ is a symlink", (d: string) => symlinkSync(root, join(d, "volumes")), /volumes is a symlink/],
    ["staging/ group-writable", (d: string) => mkdirSync(join(d, "staging"), { mode: 0o770 }), /staging is mode 0770/],
  ] as const)("fails (not warns) on an unsafe tree: %s", (_name, spoil, message) => {
    const dir = join(root, `state-unsafe-${_name.length}-${Math.random()}`);
    mkdirSync(dir, { mode: 0o700 });
    spoil(dir);
    if (_name.startsWith("staging")) chmodSync(join(dir, "staging"), 0o770);
    const result = checkStateDir(dir);
    expect(result.status).toBe("fail");
    expect(result.detail).toMatch(message);
  });

  test("a file is not a state dir", () => {
    const file = join(root, "not-a-dir");
    writeFileSync(file, "");
    expect(checkStateDir(file).status).toBe("fail");
  });
});

test("checkMountTools: found in the given dirs, or fail naming what is missing", () => {
  const bin = join(root, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "mount"), "", { mode: 0o755 });
  expect(checkMountTools([bin])).toMatchObject({ status: "fail", detail: `umount not found in ${bin}` });
  writeFileSync(join(bin, "umount"), "", { mode: 0o755 });
  expect(checkMountTools([bin])).toMatchObject({ status: "ok", detail: `${join(bin, "mount")}, ${join(bin, "umount")}` });
});

describe("checkMountTest (fake tmpfs)", () => {
  const fake = (opts: { mountFails?: boolean; fsType?: string }) => {
    const calls: string[] = [];
    const tmpfs = {
      mountAt: () => (opts.fsType ? { fsType: opts.fsType } : undefined),
      mount: async ({ dir }: { dir: string }) => {
        calls.push(`mount ${dir}`);
        if (opts.mountFails) throw new Error("mount tmpfs: mount exited 32: permission denied");
      },
      unmount: async (dir: string) => {
        calls.push(`unmount ${dir}`);
        return false;
      },
      remountReadOnly: async () => {},
    } as unknown as Tmpfs;
    return { tmpfs, calls };
  };

  test.each([
    ["mounted, checked and removed", { fsType: "tmpfs" }, "ok", 2],
    ["mount fails: fail with its error, nothing left", { mountFails: true }, "fail", 1],
    ["mount claims success but no tmpfs appears", { fsType: "ext4" }, "fail", 2],
  ] as const)("%s", async (_name, opts, status, callCount) => {
    const state = mkdtempSync(join(root, "mt-"));
    const { tmpfs, calls } = fake(opts);
    expect((await checkMountTest(state, tmpfs)).status).toBe(status);
    expect(calls).toHaveLength(callCount);
    expect(readdirSync(state)).toEqual([]);
  });
});
