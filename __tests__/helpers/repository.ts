import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../scripts/lib/terraform";

/** Files of the repository (tracked or new, never ignored ones), relative to the root. */
export function repositoryFiles(): string[] {
  const git = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (git.status !== 0)
    throw new Error(`git ls-files failed (the tests read the repository's file list with git): ${git.stderr}`);
  return git.stdout.split("\n").filter((f) => f && existsSync(join(ROOT, f)));
}
