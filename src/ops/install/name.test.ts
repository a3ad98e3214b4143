import { describe, expect, test } from "bun:test";
import { UsageError } from "../flags.ts";
import { DEFAULT_PLUGIN_DIR, installTargetFlags, parseDriverName } from "./name.ts";

describe("parseDriverName", () => {
  test("splits vendor~name the way the kubelet's prober does", () => {
    expect(parseDriverName("cloudwatt~vaulttmpfs")).toEqual({ dirName: "cloudwatt~vaulttmpfs", vendor: "cloudwatt", name: "vaulttmpfs", pluginName: "cloudwatt/vaulttmpfs" });
    expect(parseDriverName("vault.example.com~Token_v2.1").pluginName).toBe("vault.example.com/Token_v2.1");
  });

  test.each([
    ["", "has 0 '~'"],
    ["~vaulttmpfs", `vendor ""`],
    ["cloudwatt~", `name ""`],
    ["-cloudwatt~x", `vendor "-cloudwatt"`],
    ["cloud_watt~x", `vendor "cloud_watt"`],
    [`${"a".repeat(254)}~x`, "at most 253"],
    ["cloudwatt~-x", `name "-x"`],
    ["cloudwatt~x.", `name "x."`],
    [`cloudwatt~${"n".repeat(64)}`, "1-63"],
  ])("refuses %j", (raw, message) => {
    expect(() => parseDriverName(raw)).toThrow(UsageError);
    expect(() => parseDriverName(raw)).toThrow(message);
  });

  test("accepts the longest legal parts", () => {
    expect(parseDriverName(`${"a".repeat(253)}~${"n".repeat(63)}`).name).toHaveLength(63);
  });
});

describe("installTargetFlags", () => {
  test("defaults to the kubelet's default plugin dir and cloudwatt~vaulttmpfs", () => {
    expect(installTargetFlags([])).toMatchObject({ pluginDir: DEFAULT_PLUGIN_DIR, driver: { dirName: "cloudwatt~vaulttmpfs" } });
  });

  test("normalises the plugin dir and reads --flag=value too", () => {
    expect(installTargetFlags(["--plugin-dir=/var/lib/kubelet/volumeplugins/", "--driver", "a~b"])).toMatchObject({ pluginDir: "/var/lib/kubelet/volumeplugins/", driver: { name: "b" } });
    expect(installTargetFlags(["--plugin-dir", "/x//y/../z"]).pluginDir).toBe("/x/z");
  });
});
