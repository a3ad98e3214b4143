import { CAPABILITIES, type DriverResult } from "../flex/protocol.ts";

/** The kubelet probes this often; it touches neither the network nor the disk, and reads no config. */
export function initCommand(): DriverResult {
  return { status: "Success", capabilities: CAPABILITIES };
}
