/** A file mode's permission bits as `ls`/`chmod` write them: `0640`, `1777`. */
export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}
