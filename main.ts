/** The cdktf app: one stack per environment, nothing else. */
import { App } from "cdktf";
import { loadEnvironments } from "./environments";
import { PlatformStack } from "./modules/platform-stack";

// Validate first: a bad config stops synth before anything is written.
const environments = loadEnvironments();
const app = new App();
for (const environment of environments) new PlatformStack(app, environment);
app.synth();
