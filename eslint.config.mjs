// The linters the code assumes: no `any`, no non-null assertions, no import cycles. The rules are
// errors everywhere; a justified exception is an inline disable with its reason, next to the code.
import importX, { createNodeResolver } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "cdktf.out/**",
      "cdktf.out.bootstrap/**",
      ".build/**",
      ".venv*/**",
      "coverage/**",
      "bench/results/**",
      ".emulator/**",
    ],
  },
  {
    files: ["**/*.ts", "**/*.mts"],
    languageOptions: { parser: tseslint.parser },
    plugins: { "@typescript-eslint": tseslint.plugin, "import-x": importX },
    settings: {
      "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".mts", ".js", ".mjs", ".json"] })],
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-non-null-assertion": "error",
      "import-x/no-cycle": "error",
    },
  },
);
