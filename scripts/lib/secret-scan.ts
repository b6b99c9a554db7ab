/**
 * Looks for secrets in synthesized Terraform: credentials never belong in the JSON (it is stored
 * as a build artifact, shown in plans and kept in state). Secrets live in Secrets Manager and the
 * stack holds only references to them (`${aws_secretsmanager_secret.x.arn}`, `SECRET_ID`), or AWS
 * manages them (`manage_admin_password`).
 *
 * Two kinds of detection:
 *  - patterns that are secrets wherever they appear (access key ids, private keys, tokens with a
 *    known prefix, credentials inside URLs);
 *  - attributes whose name says secret (password, secret, token, private key, …) holding a literal
 *    string instead of a reference.
 */
import type { TerraformJson } from "./stacks";

export interface SecretFinding {
  /** Where: "<type>.<name>.<attribute path>" in the JSON, or the file. */
  readonly where: string;
  readonly what: string;
}

const PATTERNS: readonly [string, RegExp][] = [
  ["AWS access key id", /\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/],
  ["private key", /-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----/],
  ["GitHub token", /\bgh[pousr]_[A-Za-z0-9]{36,}\b/],
  ["Slack token", /\bxox[abposr]-[A-Za-z0-9-]{10,}/],
  ["JSON web token", /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/],
  ["credentials in a URL", /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@"']+:[^/\s@"']+@/i],
  ["password in a connection string", /[?&;](?:password|pwd)=[^&;\s"']+/i],
];

/** Attribute names that hold secrets. */
const SECRET_NAME =
  /(?:^|_)(?:password|passwd|passphrase|secret|token|private_?key|access_?key|api_?key|credentials?)(?:$|_)/i;
/** …unless the name says it is about a secret rather than the secret itself. */
const ABOUT_A_SECRET =
  /(?:_arn|_id|_name|_kms_key_id|_key_id|_wo_version|_version|_length|_rotation\w*|_enabled|_encrypted|_source|_prefix|_url)$|^(?:manage_|return_)/i;

/** A value that is not a secret even under a secret's name: a reference, a flag, a number, nothing. */
function harmless(value: unknown): boolean {
  if (typeof value !== "string") return true;
  const v = value.trim();
  return v === "" || /^\$\{[^}]+\}$/.test(v) || /^(?:true|false)$/.test(v);
}

/** Findings in one synthesized stack's JSON. */
export function findSecrets(json: TerraformJson): SecretFinding[] {
  const out: SecretFinding[] = [];
  const visit = (value: unknown, path: string[]): void => {
    if (typeof value === "string") {
      for (const [what, pattern] of PATTERNS) if (pattern.test(value)) out.push({ where: path.join("."), what });
      const name = path[path.length - 1] ?? "";
      if (SECRET_NAME.test(name) && !ABOUT_A_SECRET.test(name) && !harmless(value))
        out.push({ where: path.join("."), what: `a literal value for "${name}"` });
    } else if (Array.isArray(value)) value.forEach((v, i) => visit(v, [...path, String(i)]));
    else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) if (k !== "//") visit(v, [...path, k]);
    }
  };
  visit(json, []);
  // A secret version with a literal value puts the secret in state and in the JSON, whatever its name.
  for (const [name, body] of Object.entries(json.resource?.aws_secretsmanager_secret_version ?? {})) {
    if (!harmless((body as { secret_string?: unknown }).secret_string))
      out.push({
        where: `resource.aws_secretsmanager_secret_version.${name}`,
        what: "a secret value in a secret version",
      });
  }
  return dedupe(out);
}

/** Findings in a text file of the synth output (assets such as scripts). */
export function findSecretsInText(where: string, text: string): SecretFinding[] {
  return PATTERNS.filter(([, pattern]) => pattern.test(text)).map(([what]) => ({ where, what }));
}

function dedupe(findings: SecretFinding[]): SecretFinding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.where}\u0000${f.what}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
