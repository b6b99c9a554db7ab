/**
 * Three projects: `unit` (pure synth and logic; no terraform, emulator or Spark; fast), and the
 * integration tests (real terraform, the emulator, subprocesses) in two: `cloud`, the files that
 * run on the run's one shared local cloud, and `integration`, the files that bring their own.
 * `npm test` runs `cloud` and `integration` at the same time, as two jest processes of one worker
 * each: the shared cloud's files change it in place, so they must run one after another, while the
 * others need nothing from them. Much of an integration file's time is spent waiting (on the AWS
 * provider's fixed sleeps during an apply, on an execution), which the other lane fills.
 */
const { readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");

const transform = { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] };
const common = { testEnvironment: "node", transform, moduleFileExtensions: ["ts", "js", "json"] };

// Node 20 is the project runtime; the AWS SDK notice about its future Node 22 floor would repeat in every file.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

// A file runs on the shared cloud when it calls sharedLocalCloud() (SHARED_CLOUD_MARKER in
// __tests__/helpers/local-cloud.ts; global-setup.ts starts the cloud by the same test).
const integrationDir = join(__dirname, "__tests__", "integration");
const integrationFiles = readdirSync(integrationDir).filter((f) => f.endsWith(".test.ts"));
const usesSharedCloud = (f) => readFileSync(join(integrationDir, f), "utf8").includes("sharedLocalCloud(");
const paths = (files) => files.map((f) => `<rootDir>/__tests__/integration/${f}`);
const integration = { ...common, slowTestThreshold: 60 };

module.exports = {
  projects: [
    { ...common, displayName: "unit", testMatch: ["<rootDir>/__tests__/unit/**/*.test.ts"] },
    {
      ...integration,
      displayName: "cloud",
      testMatch: paths(integrationFiles.filter(usesSharedCloud)),
      // One local cloud per run, started only when a selected file uses it (__tests__/helpers/local-cloud.ts).
      globalSetup: "<rootDir>/__tests__/integration/setup/global-setup.ts",
      globalTeardown: "<rootDir>/__tests__/integration/setup/global-teardown.ts",
    },
    {
      ...integration,
      displayName: "integration",
      testMatch: paths(integrationFiles.filter((f) => !usesSharedCloud(f))),
    },
  ],
};
