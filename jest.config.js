/**
 * Two projects: `unit` (pure synth and logic; no terraform, emulator or Spark; fast) and
 * `integration` (real terraform, the emulator, subprocesses). `npm test` runs both.
 */
const transform = { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] };
const common = { testEnvironment: "node", transform, moduleFileExtensions: ["ts", "js", "json"] };

// Node 20 is the project runtime; the AWS SDK notice about its future Node 22 floor would repeat in every file.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

module.exports = {
  projects: [
    { ...common, displayName: "unit", testMatch: ["<rootDir>/__tests__/unit/**/*.test.ts"] },
    {
      ...common,
      displayName: "integration",
      testMatch: ["<rootDir>/__tests__/integration/**/*.test.ts"],
      // One local cloud per run, started only when a selected file uses it (__tests__/helpers/local-cloud.ts).
      globalSetup: "<rootDir>/__tests__/integration/setup/global-setup.ts",
      globalTeardown: "<rootDir>/__tests__/integration/setup/global-teardown.ts",
      slowTestThreshold: 60,
    },
  ],
};
