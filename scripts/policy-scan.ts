/**
 * The policy scan: checkov over every synthesized environment, with the accepted exceptions
 * recorded on the resources applied (scripts/lib/policy-scan.ts).
 *
 *   npm run synth && npm run policy:scan            # scans cdktf.out
 *   npm run policy:scan -- <synth output dir>
 *
 * Exits 1 on any finding without a skip on its resource, and on any skip that accepts nothing.
 * `npm test` runs the same scan (__tests__/integration/policy-scan.test.ts).
 */
import { join } from "node:path";
import { scanStack, type PolicyScanResult } from "./lib/policy-scan";
import { readStacks } from "./lib/stacks";
import { ROOT } from "./lib/terraform";

function main(outdir: string): number {
  const results: [string, PolicyScanResult][] = readStacks(outdir).map((stack) => [
    stack.name,
    scanStack(stack.dir, stack.json),
  ]);
  let problems = 0;
  for (const [name, r] of results) {
    console.log(
      `${name}: checkov ${r.checkovVersion}: ${r.passed} passed, ${r.accepted.length} accepted (skipped on the resource), ${r.findings.length} failed, ${r.staleSkips.length} stale skips`,
    );
    for (const f of r.findings) console.log(`  FAIL  ${f.check} ${f.title}\n        ${f.address} (${f.path})`);
    for (const s of r.staleSkips)
      console.log(`  STALE ${s.check} skipped on ${s.address} (${s.path}) but it does not fail there: remove the skip`);
    problems += r.findings.length + r.staleSkips.length;
  }
  if (problems > 0) {
    console.error(
      `\n${problems} problem(s). Fix the resource, or, for a deliberate exception, call skipPolicyCheck(resource, check, reason) next to it (modules/shared/policy-checks.ts).`,
    );
    return 1;
  }
  console.log("\nno findings in any environment");
  return 0;
}

if (require.main === module) {
  try {
    process.exit(main(process.argv[2] ?? join(ROOT, "cdktf.out")));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
