// Writes the Worker's static assets (wrangler.toml [assets] directory): the
// zxcvbn dictionaries as one JSON file in the shape of PasswordDictionaries
// (src/domain/passwords/strength.ts). wrangler runs this as the [build]
// command before it bundles, so the file always matches the installed
// packages. Kept out of the script because every cold isolate parses the
// script, while this file is fetched only by the first password check.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as common from "@zxcvbn-ts/language-common";
import * as en from "@zxcvbn-ts/language-en";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const directory = join(root, "dist/worker-assets");
const dictionaries = {
  dictionary: { ...common.dictionary, ...en.dictionary },
  adjacencyGraphs: common.adjacencyGraphs,
  translations: en.translations,
};
await mkdir(directory, { recursive: true });
await writeFile(join(directory, "password-dictionaries.json"), JSON.stringify(dictionaries));
