import type { Context } from "../context.ts";
import type { OperatorIo } from "./operator.ts";

/** `vaulttmpfs doctor`: placeholder until implemented. */
export async function doctorCommand(_args: readonly string[], _ctx: Context, io: OperatorIo): Promise<number> {
  io.err("vaulttmpfs doctor: not implemented yet\n");
  return 1;
}
