import type { Context } from "../context.ts";
import type { OperatorIo } from "./operator.ts";

/** `vaulttmpfs bootstrap`: placeholder until implemented. */
export async function bootstrapCommand(_args: readonly string[], _ctx: Context, io: OperatorIo): Promise<number> {
  io.err("vaulttmpfs bootstrap: not implemented yet\n");
  return 1;
}
