/**
 * Reads the rules of a Vault ACL policy's text, for `bootstrap --revoke-only`,
 * which must prove that the node's token can do nothing but revoke, renew and
 * look up. This is deliberately not a general HCL parser: it accepts the
 * shape policies are written in (`path "…" { capabilities = ["…", …] }`,
 * comments, or the same as JSON) and throws on anything else (a legacy
 * `policy = "write"`, parameter constraints, heredocs), because a rule it
 * cannot read is a rule it cannot prove harmless.
 */

export interface PolicyRule {
  readonly path: string;
  readonly capabilities: readonly string[];
}

export class PolicyTextError extends Error {}

type Tok = { kind: "string"; value: string } | { kind: "word"; value: string } | { kind: "punct"; value: string };

/** The rules of `text` (HCL or JSON). Throws `PolicyTextError` on anything it does not fully understand. */
export function parsePolicyRules(text: string): PolicyRule[] {
  return text.trimStart().startsWith("{") ? parseJson(text) : parseHcl(tokenize(text));
}

function parseJson(text: string): PolicyRule[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PolicyTextError(`not valid JSON: ${(err as Error).message}`);
  }
  refuseRepeatedKeys(text);
  const obj = asObject(doc, "the policy");
  for (const key of Object.keys(obj)) if (key !== "path") throw new PolicyTextError(`unknown top-level key ${JSON.stringify(key)}`);
  const paths = asObject(obj.path ?? {}, `"path"`);
  return Object.entries(paths).map(([path, body]) => {
    const rule = asObject(body, `path ${JSON.stringify(path)}`);
    for (const key of Object.keys(rule)) if (key !== "capabilities") throw new PolicyTextError(`path ${JSON.stringify(path)}: unknown key ${JSON.stringify(key)}`);
    const caps = rule.capabilities ?? [];
    if (!Array.isArray(caps) || !caps.every((c) => typeof c === "string")) throw new PolicyTextError(`path ${JSON.stringify(path)}: capabilities must be a list of strings`);
    return { path, capabilities: caps as string[] };
  });
}

/**
 * Vault reads a JSON policy as HCL does and keeps every copy of a repeated
 * key (two "path" objects, one path twice, "capabilities" twice); JSON.parse
 * keeps only the last, so a grant in an earlier copy would go unseen. Any key
 * repeated within one object is refused. Runs on text JSON.parse accepted.
 */
function refuseRepeatedKeys(text: string): void {
  const objects: (Set<string> | null)[] = []; // null: an array
  let lastString: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      lastString = JSON.parse(text.slice(i, j + 1)) as string; // decodes escapes: "\u0070ath" is "path"
      i = j;
      continue;
    }
    if (/\s/.test(c)) continue;
    if (c === ":") {
      const keys = objects.at(-1);
      if (keys && lastString !== undefined) {
        if (keys.has(lastString)) throw new PolicyTextError(`the key ${JSON.stringify(lastString)} is repeated in one object (Vault would keep both copies)`);
        keys.add(lastString);
      }
    } else if (c === "{") objects.push(new Set());
    else if (c === "[") objects.push(null);
    else if (c === "}" || c === "]") objects.pop();
    lastString = undefined;
  }
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new PolicyTextError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) i++;
    else if (c === "#" || text.startsWith("//", i)) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (text.startsWith("/*", i)) {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw new PolicyTextError("unterminated /* comment");
      i = end + 2;
    } else if (c === '"') {
      let value = "";
      i++;
      for (;;) {
        const d = text[i];
        if (d === undefined || d === "\n") throw new PolicyTextError("unterminated string");
        if (d === '"') break;
        if (d === "\\") {
          // Only the escapes a path or capability could need; anything else (\u, ${…}) is refused below.
          const e = text[i + 1];
          if (e !== '"' && e !== "\\") throw new PolicyTextError(`unsupported escape \\${e ?? ""} in a string`);
          value += e;
          i += 2;
          continue;
        }
        value += d;
        i++;
      }
      i++;
      if (value.includes("${") || value.includes("%{")) throw new PolicyTextError(`template expression in string ${JSON.stringify(value)}`);
      toks.push({ kind: "string", value });
    } else if ("{}[]=,".includes(c)) {
      toks.push({ kind: "punct", value: c });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i))!;
      toks.push({ kind: "word", value: m[0] });
      i += m[0].length;
    } else {
      throw new PolicyTextError(`unexpected character ${JSON.stringify(c)}`);
    }
  }
  return toks;
}

function parseHcl(toks: Tok[]): PolicyRule[] {
  let i = 0;
  const next = (): Tok => {
    const t = toks[i++];
    if (!t) throw new PolicyTextError("unexpected end of policy");
    return t;
  };
  const expect = (kind: Tok["kind"], value?: string): Tok => {
    const t = next();
    if (t.kind !== kind || (value !== undefined && t.value !== value)) throw new PolicyTextError(`expected ${value ?? kind}, found ${JSON.stringify(t.value)}`);
    return t;
  };
  const rules: PolicyRule[] = [];
  while (i < toks.length) {
    const head = next();
    if (head.kind !== "word" || head.value !== "path") throw new PolicyTextError(`only path "…" { capabilities = […] } blocks are understood, found ${JSON.stringify(head.value)}`);
    const path = expect("string").value;
    expect("punct", "{");
    let capabilities: string[] | undefined;
    while (toks[i]?.value !== "}" || toks[i]?.kind !== "punct") {
      const key = next();
      if (key.value !== "capabilities" || (key.kind !== "word" && key.kind !== "string")) throw new PolicyTextError(`path ${JSON.stringify(path)}: only capabilities are understood, found ${JSON.stringify(key.value)}`);
      if (capabilities !== undefined) throw new PolicyTextError(`path ${JSON.stringify(path)}: capabilities given twice`);
      expect("punct", "=");
      expect("punct", "[");
      capabilities = [];
      while (!(toks[i]?.kind === "punct" && toks[i]?.value === "]")) {
        capabilities.push(expect("string").value);
        if (toks[i]?.kind === "punct" && toks[i]?.value === ",") i++;
        else if (!(toks[i]?.kind === "punct" && toks[i]?.value === "]")) throw new PolicyTextError(`path ${JSON.stringify(path)}: expected , or ] in capabilities`);
      }
      i++; // ]
      if (toks[i]?.kind === "punct" && toks[i]?.value === ",") i++;
    }
    i++; // }
    rules.push({ path, capabilities: capabilities ?? [] });
  }
  return rules;
}

/** The rules of `rules` that grant anything (a capability other than `deny`) on a path not in `allowed`, matched exactly. */
export function grantsBeyond(rules: readonly PolicyRule[], allowed: readonly string[]): PolicyRule[] {
  return rules.filter((r) => !allowed.includes(r.path) && r.capabilities.some((c) => c !== "deny"));
}
