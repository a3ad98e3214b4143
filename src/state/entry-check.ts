import { parsePodVolumePath } from "../flex/podpath.ts";
import type { JournalEntry, VolumeKey } from "./journal.ts";

/**
 * A journal entry is data to verify, not an order: gc revokes its accessor
 * and judges its `dir`. An entry is only acted on when it names the volume
 * its file is named after and its `dir` is that volume's kubelet path, so a
 * planted or copied file cannot point gc at another volume's dir.
 * Returns what is wrong, or undefined.
 */
export function entryKeyProblem(entry: JournalEntry, key: VolumeKey): string | undefined {
  if (entry.podUid !== key.podUid || entry.volumeName !== key.volumeName) {
    return `names volume ${entry.podUid}_${entry.volumeName}, not ${key.podUid}_${key.volumeName}`;
  }
  let parsed;
  try {
    parsed = parsePodVolumePath(entry.dir);
  } catch {
    return `its dir ${JSON.stringify(entry.dir.slice(0, 200))} is not a kubelet volume path`;
  }
  if (parsed.dir !== entry.dir || parsed.podUid !== key.podUid || parsed.volumeName !== key.volumeName) {
    return `its dir ${JSON.stringify(entry.dir.slice(0, 200))} is not the path of volume ${key.podUid}_${key.volumeName}`;
  }
  return undefined;
}
