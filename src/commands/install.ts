import type { Context } from "../context.ts";
import type { OperatorIo } from "./operator.ts";

/** `vaulttmpfs install`: placeholder until implemented. */
export async function installCommand(_args: readonly string[], _ctx: Context, io: OperatorIo): Promise<number> {
  io.err("vaulttmpfs install: not implemented yet\n");
  return 1;
}
