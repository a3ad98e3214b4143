import { InvalidRequestError } from "../errors.ts";

/** Where a pod volume lives: `<kubelet-root>/pods/<podUid>/volumes/<vendor~driver>/<name>`. */
export interface PodVolumePath {
  readonly dir: string;
  readonly kubeletRoot: string;
  readonly podUid: string;
  readonly driverDir: string;
  readonly volumeName: string;
}

const SHAPE = /^(\/.*)\/pods\/([^/]+)\/volumes\/([^/~]+~[^/~]+)\/([^/]+)$/;
// Pod UIDs are UUIDs; static and mirror pods use a 32-hex hash.
const POD_UID = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/**
 * Parses and checks the volume dir the kubelet gave. Refuses anything that is
 * not exactly that shape, so a bad path can never make the driver mount,
 * write or delete elsewhere.
 */
export function parsePodVolumePath(dir: string | undefined): PodVolumePath {
  if (!dir) throw new InvalidRequestError("missing the volume directory argument");
  const where = JSON.stringify(dir.slice(0, 300));
  if (dir.split("/").some((seg) => seg === ".." || seg === ".") || dir.includes("//") || dir.includes("\0")) {
    throw new InvalidRequestError(`volume directory ${where} must be a clean absolute path (no '.', '..' or '//')`);
  }
  const m = SHAPE.exec(dir.replace(/\/$/, ""));
  if (!m) {
    throw new InvalidRequestError(`volume directory ${where} is not of the form <kubelet-root>/pods/<uid>/volumes/<vendor~driver>/<name>`);
  }
  const [, kubeletRoot = "", podUid = "", driverDir = "", volumeName = ""] = m;
  if (!POD_UID.test(podUid)) throw new InvalidRequestError(`pod UID ${JSON.stringify(podUid)} in the volume directory is malformed`);
  if (!VOLUME_NAME.test(volumeName)) throw new InvalidRequestError(`volume name ${JSON.stringify(volumeName)} in the volume directory is malformed`);
  return { dir: dir.replace(/\/$/, ""), kubeletRoot, podUid, driverDir, volumeName };
}

/** Refuses a volume dir of another driver (`kubernetes.io~secret`, say): the driver only touches its own. */
export function checkOwnDriver(volume: PodVolumePath, ownDriverDir: string): void {
  if (volume.driverDir !== ownDriverDir) {
    throw new InvalidRequestError(`volume directory ${JSON.stringify(volume.dir)} belongs to driver ${JSON.stringify(volume.driverDir)}, not to this one (${ownDriverDir}); refusing to touch it`);
  }
}
