// Lint rules, including the dependency direction of the layers:
// runtime → app → transport → services → (domain, store).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const nodeBuiltins = { group: ["node:*"], message: "Only src/runtime may use Node built-ins." };

export default tseslint.config(
  { ignores: ["gen/**", "node_modules/**", ".wrangler/**", "dist/**", "data/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  {
    files: ["src/domain/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [nodeBuiltins, { group: ["**/store/**", "**/services/**", "**/transport/**", "**/runtime/**", "**/gen/**", "drizzle-orm", "drizzle-orm/*", "@connectrpc/*"], message: "The domain is pure: no storage, transport, runtime or generated code." }] }],
    },
  },
  {
    files: ["src/store/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [nodeBuiltins, { group: ["**/services/**", "**/transport/**", "**/runtime/**", "**/gen/**"], message: "The store knows only its schema and the domain." }] }],
    },
  },
  {
    files: ["src/services/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [nodeBuiltins, { group: ["**/transport/**", "**/runtime/**"], message: "Services do not depend on transports or runtimes." }] }],
    },
  },
  {
    files: ["src/transport/**/*.ts", "src/app.ts", "src/config.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [nodeBuiltins, { group: ["**/runtime/**"], message: "Only runtime entry points know their runtime." }] }],
    },
  },
);
