/**
 * The environments the pipelines plan, promote to and check for drift, in promotion order (the
 * order of ENVIRONMENTS), with the region each is deployed to. Only environments with remote state
 * are deployed from CI; `local` targets the emulator.
 *
 *   npm run -s ci:environments                # [{"name":"dev","region":"eu-west-1"}, ...] (a job matrix)
 *   npm run -s ci:environments -- --region prod   # eu-west-1
 */
import { ConfigError, loadEnvironment, loadEnvironments, type EnvironmentConfig } from "../environments";

export interface CiEnvironment {
  readonly name: string;
  readonly region: string;
}

export function deployableEnvironments(configs: readonly EnvironmentConfig[] = loadEnvironments()): CiEnvironment[] {
  return configs
    .filter((env) => env.tier !== "local" && env.state.backend === "s3")
    .map((env) => ({ name: env.name, region: env.region }));
}

if (require.main === module) {
  try {
    const args = process.argv.slice(2);
    if (args[0] === "--region" && args[1]) console.log(loadEnvironment(args[1]).region);
    else if (args.length === 0) console.log(JSON.stringify(deployableEnvironments()));
    else {
      console.error("usage: npm run -s ci:environments [-- --region <environment>]");
      process.exit(2);
    }
  } catch (error) {
    console.error(error instanceof ConfigError || error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
