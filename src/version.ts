declare const BUILD_VERSION: string | undefined;
declare const BUILD_COMMIT: string | undefined;

/** Baked in by build.ts with `define`; "dev" when running from source. */
export const VERSION = typeof BUILD_VERSION === "string" ? BUILD_VERSION : "dev";
export const COMMIT = typeof BUILD_COMMIT === "string" ? BUILD_COMMIT : "unknown";
