import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/node_modules", "**/.wrangler", "src/worker-configuration.d.ts", "coverage", ".bench", "dist", "public/vendor"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.serviceworker } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  { files: ["scripts/**", "bench/**/*.mjs", "*.config.*", ".ci/**", ".dependency-cruiser.cjs"], languageOptions: { globals: { ...globals.node } } },
  { files: ["test/**"], rules: { "@typescript-eslint/no-explicit-any": "off" } },
);
