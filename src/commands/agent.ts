import type { Context } from "../context.ts";
import type { OperatorIo } from "./operator.ts";

/** `vaulttmpfs agent`: placeholder until implemented. */
export async function agentCommand(_args: readonly string[], _ctx: Context, io: OperatorIo): Promise<number> {
  io.err("vaulttmpfs agent: not implemented yet\n");
  return 1;
}
