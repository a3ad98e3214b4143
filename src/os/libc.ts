import { dlopen, FFIType } from "bun:ffi";

const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];

/** The few libc calls Bun and Node do not expose: flock(2), and fd plumbing for the kubelet's stdout. */
export interface Libc {
  flock(fd: number, op: number): number;
  dup2(oldFd: number, newFd: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
}

let libc: Libc | null | undefined;

/** libc, loaded once per process (dlopen of an already mapped library: ~0.2 ms); null when none of the names loads. */
export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  for (const name of LIBC_NAMES) {
    try {
      const lib = dlopen(name, {
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        dup2: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      });
      libc = lib.symbols as unknown as Libc;
      break;
    } catch {
      // try the next libc name
    }
  }
  return libc;
}
