/** `sha256sum` text mode: `<64 hex><two spaces><name>`, one per line, sorted, so `sha256sum -c SHA256SUMS` checks it. */
export function renderSha256Sums(entries: readonly { readonly file: string; readonly sha256: string }[]): string {
  return [...entries]
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map((e) => `${e.sha256}  ${e.file}\n`)
    .join("");
}

/** Parses what `renderSha256Sums` (or `sha256sum`) wrote; throws on a malformed line. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`not a sha256sum line: ${JSON.stringify(line)}`);
    sums.set(m[2]!, m[1]!);
  }
  return sums;
}
