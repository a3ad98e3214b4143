import { createHash, type Hash } from "node:crypto";
import { closeSync, openSync, readSync, writeSync } from "node:fs";

/** 1 MiB: large enough that a 105 MB binary is hashed in ~100 reads, small enough to stay off the heap's radar. */
const CHUNK = 1 << 20;

/** Reads `fd` to the end in chunks, handing each one to `each`; returns the byte count. */
function readChunks(fd: number, each: (chunk: Uint8Array) => void): number {
  const buf = Buffer.allocUnsafe(CHUNK);
  let total = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, CHUNK, null);
    if (n === 0) return total;
    each(buf.subarray(0, n));
    total += n;
  }
}

/** SHA-256 (hex) of a file, streamed: the binary is ~105 MB and must not be read into memory whole. */
export function sha256File(path: string): { sha256: string; bytes: number } {
  const fd = openSync(path, "r");
  try {
    const hash = createHash("sha256");
    const bytes = readChunks(fd, (c) => hash.update(c));
    return { sha256: hash.digest("hex"), bytes };
  } finally {
    closeSync(fd);
  }
}

/** Copies `source` to the open `destFd`, hashing what was copied, so the copy can be checked against the source's digest. */
export function copyHashing(source: string, destFd: number): { sha256: string; bytes: number } {
  const fd = openSync(source, "r");
  try {
    const hash: Hash = createHash("sha256");
    const bytes = readChunks(fd, (chunk) => {
      hash.update(chunk);
      for (let off = 0; off < chunk.length; ) off += writeSync(destFd, chunk, off, chunk.length - off);
    });
    return { sha256: hash.digest("hex"), bytes };
  } finally {
    closeSync(fd);
  }
}
