import { isAbsolute, normalize } from "node:path";
import { flagValue, UsageError } from "../flags.ts";

/** The kubelet's own default (`DefaultVolumePluginDir`); distros move it, see docs/install-agent-release.md. */
export const DEFAULT_PLUGIN_DIR = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec";
export const DEFAULT_DRIVER = "cloudwatt~vaulttmpfs";

/** A FlexVolume driver's directory name, split the way the kubelet's prober reads it. */
export interface DriverName {
  /** `<vendor>~<name>`: the directory under the plugin dir. */
  readonly dirName: string;
  readonly vendor: string;
  /** The executable's file name inside that directory (the part after `~`). */
  readonly name: string;
  /** What pods write in `flexVolume.driver`: `<vendor>/<name>`. */
  readonly pluginName: string;
}

// k8s.io/apimachinery validation.IsQualifiedName: a DNS-1123 subdomain prefix, then a name part.
const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/**
 * Parses `--driver vendor~name`. The kubelet turns the directory name into a
 * plugin name by replacing `~` with `/` and drops the driver ("volume plugin
 * has invalid name") unless that is a qualified name, so check it here rather
 * than install a driver the kubelet will never load.
 */
export function parseDriverName(raw: string): DriverName {
  const hint = `--driver must be <vendor>~<name> as in "cloudwatt~vaulttmpfs" (pods then use flexVolume.driver: "cloudwatt/vaulttmpfs")`;
  const parts = raw.split("~");
  if (parts.length !== 2) throw new UsageError(`${hint}; got ${JSON.stringify(raw)}, which has ${parts.length - 1} '~'`);
  const [vendor = "", name = ""] = parts;
  if (vendor.length === 0 || vendor.length > 253 || !DNS1123_SUBDOMAIN.test(vendor)) {
    throw new UsageError(`${hint}; vendor ${JSON.stringify(vendor)} must be a DNS subdomain: lower-case letters, digits, '-' and '.', at most 253 characters`);
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) {
    throw new UsageError(`${hint}; name ${JSON.stringify(name)} must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`);
  }
  return { dirName: raw, vendor, name, pluginName: `${vendor}/${name}` };
}

/** `--plugin-dir` and `--driver`, shared by `install` and `agent`. */
export function installTargetFlags(args: readonly string[]): { pluginDir: string; driver: DriverName } {
  const pluginDir = flagValue(args, "--plugin-dir") ?? DEFAULT_PLUGIN_DIR;
  if (!isAbsolute(pluginDir)) throw new UsageError(`--plugin-dir must be an absolute path (the kubelet's --volume-plugin-dir), got ${JSON.stringify(pluginDir)}`);
  return { pluginDir: normalize(pluginDir), driver: parseDriverName(flagValue(args, "--driver") ?? DEFAULT_DRIVER) };
}
