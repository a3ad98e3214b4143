/**
 * One error class per failure domain. Every class carries a message that is
 * safe to show to the kubelet (no token, no secret); `cause` keeps the detail
 * for the log file.
 */
export class DriverError extends Error {
  override name = "DriverError";
}

/** Bad argv or options from the kubelet: the pod spec must change. */
export class InvalidRequestError extends DriverError {
  override name = "InvalidRequestError";
}

/** A malformed environment variable on the node: the operator must fix it. */
export class ConfigError extends DriverError {
  override name = "ConfigError";
  constructor(readonly variable: string, detail: string) {
    super(`${variable}: ${detail}`);
  }
}

/** The pod asked for something the node's authorization rules forbid. */
export class ForbiddenError extends DriverError {
  override name = "ForbiddenError";
}

/** `mount`/`umount` failed or the volume dir is not in the state we expect. */
export class MountError extends DriverError {
  override name = "MountError";
  constructor(
    message: string,
    readonly detail: { command?: string[]; exitCode?: number | null; stderr?: string } = {},
  ) {
    super(message);
  }
}

/** The state dir (journal, renewal state, locks) could not be used. */
export class StateError extends DriverError {
  override name = "StateError";
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
