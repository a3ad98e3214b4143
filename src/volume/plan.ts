import type { MountRequest } from "../flex/options.ts";

/** Who owns the volume and its files, and with which modes. */
export interface Ownership {
  readonly uid: number;
  readonly gid: number;
  readonly fileMode: number;
  readonly dirMode: number;
}

/**
 * Owner is `vault/uid` or root. Group is `vault/gid`, else the pod's fsGroup,
 * else root. Files are `vault/filePermissions`, else 0440 when a group was
 * given (the group is who should read), else 0444. The tmpfs root is 0750
 * with a group, else 0755. Nothing is ever writable by group or other.
 */
export function planOwnership(req: Pick<MountRequest, "uid" | "gid" | "fsGroup" | "fileMode">): Ownership {
  const group = req.gid ?? req.fsGroup;
  return {
    uid: req.uid ?? 0,
    gid: group ?? 0,
    fileMode: req.fileMode ?? (group !== undefined ? 0o440 : 0o444),
    dirMode: group !== undefined ? 0o750 : 0o755,
  };
}
