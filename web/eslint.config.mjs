// ESLint for the dashboard's own modules (web/src): browser ES modules, no bundler.
// Formatting is Prettier's job (.prettierrc.json); these rules are about correctness.
import js from "@eslint/js";
import globals from "globals";

export default [
  // Third-party code is installed by npm into node_modules and served from there as is
  // (tracegraph.web); it is not ours to lint.
  { ignores: ["node_modules/**"] },
  js.configs.recommended,
  {
    files: ["src/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-var": "error",
      "prefer-const": "error",
      "no-implicit-coercion": "error",
      "no-shadow": "error",
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],
      "no-console": ["error", { allow: ["warn", "error"] }],
    },
  },
  {
    // The store's unit tests (node --test): node globals.
    files: ["test/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
  {
    // Node runs this config file itself.
    files: ["eslint.config.mjs"],
    languageOptions: { globals: globals.node },
  },
];
