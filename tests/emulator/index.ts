/** Public entry point of the Vault API emulator. */
export { VaultEmulator } from "./server.ts";
export type {
  CreateTokenOptions, EmulatorOptions, FaultRule, PolicyRule, RequestRecord, RoleEntry, RoleFields, TokenEntry,
  VaultVersion, WrappedData,
} from "./server.ts";
export { parseDurationSecond, parseGoDuration, goQuote, goQuoteList, multiError, humanDuration } from "./gotext.ts";
export { BUILTIN_POLICIES } from "./policy.ts";
