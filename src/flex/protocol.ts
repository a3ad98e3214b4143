import { scrub } from "../log/scrub.ts";

/**
 * The FlexVolume wire format: what the kubelet passes in argv and the one
 * JSON object it parses back from stdout+stderr.
 */

export const DRIVER_NAME = "cloudwatt/vaulttmpfs";
export const DRIVER_DIR_NAME = "cloudwatt~vaulttmpfs";

export type Status = "Success" | "Failure" | "Not supported";

export interface Capabilities {
  readonly attach: boolean;
  readonly selinuxRelabel: boolean;
  readonly fsGroup: boolean;
  readonly supportsMetrics: boolean;
}

export interface DriverResult {
  readonly status: Status;
  readonly message?: string;
  readonly capabilities?: Capabilities;
}

/**
 * `attach:false` keeps the kubelet away from the attach/detach calls.
 * `fsGroup:false` stops the kubelet's recursive chgrp and `|0660` pass, which
 * would make the token group-writable; the driver applies fsGroup itself.
 */
export const CAPABILITIES: Capabilities = Object.freeze({
  attach: false,
  selinuxRelabel: true,
  fsGroup: false,
  supportsMetrics: false,
});

/** Commands this driver implements; the kubelet must never see "Not supported" for these. */
export type DriverCommand = "init" | "mount" | "unmount";

export const success = (message?: string): DriverResult => (message ? { status: "Success", message } : { status: "Success" });
export const failure = (message: string): DriverResult => ({ status: "Failure", message });
export const notSupported = (command: string): DriverResult => ({
  status: "Not supported",
  message: `${JSON.stringify(command.slice(0, 40))} is not implemented by ${DRIVER_NAME} (a non-attachable driver)`,
});

/** One JSON line. Messages are capped: the kubelet copies them into pod events. */
export function renderResult(result: DriverResult): string {
  const scrubbed = result.message === undefined ? undefined : scrub(result.message);
  const message = scrubbed && scrubbed.length > 1000 ? `${scrubbed.slice(0, 997)}...` : scrubbed;
  return `${JSON.stringify({ ...result, ...(message === undefined ? {} : { message }) })}\n`;
}

/** Option keys under which the kubelet passes a volume's secretRef, base64-encoded, in argv. */
export const SECRET_OPTION_PREFIX = "kubernetes.io/secret/";

/**
 * Success 0, Failure 1. One exception: when argv carries secretRef values,
 * a Failure exits 0, because on a non-zero exit the kubelet logs the whole
 * argv ("driver call failed: ... args: ...") and the secrets with it.
 */
export function exitCodeFor(result: DriverResult, argv: readonly string[] = []): number {
  if (result.status !== "Failure") return 0;
  return argv.some(carriesSecretOptions) ? 0 : 1;
}

/**
 * Decided on option keys, which only the kubelet sets: a pod author can put
 * the marker into an option value, and must not be able to turn a Failure's
 * exit code into 0 with it. An argument that is not a JSON object is judged
 * by the old substring test, erring towards not logging it.
 */
function carriesSecretOptions(arg: string): boolean {
  if (!arg.includes(SECRET_OPTION_PREFIX)) return false;
  try {
    const parsed = JSON.parse(arg) as unknown;
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return Object.keys(parsed).some((k) => k.startsWith(SECRET_OPTION_PREFIX));
  } catch {
    // not the kubelet's options JSON
  }
  return arg.includes(`"${SECRET_OPTION_PREFIX}`);
}
