/**
 * Creates the Terraform state bucket for an environment's account (once per account).
 *
 *   npm run bootstrap:state -- prod            # synth + terraform plan
 *   npm run bootstrap:state -- prod --apply    # ... and apply (needs credentials for that account)
 *
 * The bootstrap's own state is a local file under cdktf.out.bootstrap/stacks/<env>-state/;
 * keep it (or import the bucket into a managed stack later) — it is tiny and has no secrets.
 */
import { App } from "cdktf";
import { join } from "node:path";
import { ConfigError, loadEnvironment } from "../environments";
import { StateBootstrapStack } from "../modules/bootstrap";
import { ROOT, requireTerraform, terraform } from "./lib/terraform";

function run(args: string[], cwd: string): void {
  const result = terraform(args, cwd);
  process.stdout.write(result.stdout);
  if (!result.ok) {
    process.stderr.write(result.stderr);
    process.exit(1);
  }
}

function main(): void {
  const [name, ...flags] = process.argv.slice(2);
  if (!name) {
    console.error("usage: npm run bootstrap:state -- <environment> [--apply]");
    process.exit(2);
  }
  const outdir = join(ROOT, "cdktf.out.bootstrap");
  const app = new App({ outdir });
  const stack = new StateBootstrapStack(app, loadEnvironment(name));
  app.synth();
  const dir = join(outdir, "stacks", stack.node.id);
  console.log(`synthesized ${dir}`);
  requireTerraform();
  run(["init", "-input=false"], dir);
  run(["plan", "-input=false", "-out=bootstrap.tfplan"], dir);
  if (flags.includes("--apply")) run(["apply", "-input=false", "bootstrap.tfplan"], dir);
  else console.log("plan only; re-run with --apply to create the state bucket");
}

try {
  main();
} catch (error) {
  if (error instanceof ConfigError || (error instanceof Error && /only S3 backends/.test(error.message))) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
