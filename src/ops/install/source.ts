import { isAbsolute } from "node:path";
import type { Env } from "../../config.ts";
import { DriverError } from "../../errors.ts";

/**
 * TEST-ONLY hook: names the file `install` copies instead of the running
 * executable. The test suite runs `install` inside `bun test`, where the
 * running executable is bun itself. The compiled binary ignores it: whatever
 * sets the agent's environment must not choose what runs as the driver.
 */
export const INSTALL_SOURCE_ENV = "VAULTTMPFS_INSTALL_SOURCE";

export interface Runtime {
  readonly execPath: string;
  /** `Bun.isStandaloneExecutable`: true only in the binary `bun build --compile` made. */
  readonly standalone: boolean;
}

export const currentRuntime = (): Runtime => ({ execPath: process.execPath, standalone: Bun.isStandaloneExecutable });

/** The file to install: the running binary, or (from source only) the test hook's file. */
export function installSource(env: Env, runtime: Runtime = currentRuntime()): string {
  const override = runtime.standalone ? undefined : env[INSTALL_SOURCE_ENV];
  if (override) {
    if (!isAbsolute(override)) throw new DriverError(`${INSTALL_SOURCE_ENV} must be an absolute path, got ${JSON.stringify(override)}`);
    return override;
  }
  if (!runtime.standalone) {
    throw new DriverError(
      `install copies the running executable, but this is ${runtime.execPath} running the TypeScript source, not the compiled driver; ` +
        `build it with "bun run build" and run "dist/vaulttmpfs install"`,
    );
  }
  return runtime.execPath;
}
