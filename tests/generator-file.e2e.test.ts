/**
 * Issue 10, item 6: the generator token file is refused, with a Failure
 * naming the file and the fix, when others could read it or anyone but root
 * could replace it. Real files, real modes, real owners.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { podUid, useWorld } from "./support/world.ts";

const w = useWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "3s" } });

/** A copy of the world's generator token file, spoiled by `spoil`. */
function tokenFile(spoil: (path: string) => void): string {
  const path = join(w.root, `vaulttoken-${podUid()}`);
  copyFileSync(w.tokenPath, path);
  chmodSync(path, 0o600);
  spoil(path);
  return path;
}
async function mountWith(path: string) {
  w.vault.clearRequests();
  const m = await w.kubelet.mount({ uid: podUid(), namespace: "shop", serviceAccount: "web" }, { "vault/policies": "app" }, { VAULTTMPFS_GENERATOR_TOKEN_PATH: path });
  expect(m.stderr).toBe("");
  return m;
}

describe("the generator token file's mode and owner", () => {
  test.each([
    ["0644 (every user can read it)", (p: string) => chmodSync(p, 0o644), /is mode 0644, open to every user on the node; refusing to use it \(chmod 0600 .*\)/],
    ["0666", (p: string) => chmodSync(p, 0o666), /is mode 0666, open to every user/],
    ["0660 (its group can replace it)", (p: string) => chmodSync(p, 0o660), /is mode 0660, open to its group for writing/],
    ["owned by another uid", (p: string) => chownSync(p, 65534, 65534), /belongs to uid 65534, not root: that user can swap the token; refusing to use it \(chown root:root /],
  ])("%s: mount fails naming the file and the fix, before any Vault call", async (_name, spoil, message) => {
    const path = tokenFile(spoil);
    const m = await mountWith(path);
    expect(m.json.status).toBe("Failure");
    expect(m.json.message).toMatch(message);
    expect(m.json.message).toContain(path);
    expect(w.vault.requests.filter((r) => r.path.startsWith("auth/token/"))).toEqual([]);
  });

  test.each([
    ["0600", (p: string) => chmodSync(p, 0o600)],
    ["0640 (group may read)", (p: string) => chmodSync(p, 0o640)],
    ["0400", (p: string) => chmodSync(p, 0o400)],
  ])("%s root-owned: used", async (_name, spoil) => {
    const m = await mountWith(tokenFile(spoil));
    expect(m.json.status).toBe("Success");
    expect(await w.kubelet.unmount(m.dir)).toMatchObject({ json: { status: "Success" } });
  });

  test("a symlink to a safe file is judged by the file it opens", async () => {
    const link = join(w.root, `link-${podUid()}`);
    symlinkSync(tokenFile(() => {}), link);
    expect((await mountWith(link)).json.status).toBe("Success");
    const bad = join(w.root, `badlink-${podUid()}`);
    symlinkSync(tokenFile((p) => chmodSync(p, 0o644)), bad);
    expect((await mountWith(bad)).json.message).toMatch(/is mode 0644/);
  });
});
