/**
 * The `--extra-py-files` package the ingestion module uploads is byte for byte what the Glue jobs'
 * own build (glue-jobs/build_package.py, run with the project's Python) produces: one artifact,
 * however it is built.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gluePackage } from "../../modules/ingestion";
import { ROOT } from "../../scripts/lib/terraform";

it("gluePackage() equals glue-jobs/build_package.py's zip", () => {
  const python = join(ROOT, ".venv", "bin", "python");
  if (!existsSync(python))
    throw new Error("the project's Python is missing: run `npm run setup:py` (npm test does it)");
  const dir = mkdtempSync(join(tmpdir(), "glue-package-"));
  try {
    const out = join(dir, "dataplat_glue.zip");
    const result = spawnSync(python, [join(ROOT, "glue-jobs", "build_package.py"), "--out", out], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const ours = gluePackage();
    expect(result.stdout.trim()).toBe(`${ours.sha256}  ${out}`);
    expect(readFileSync(out).equals(readFileSync(ours.path))).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
