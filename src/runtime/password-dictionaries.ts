/**
 * Where each runtime finds the zxcvbn dictionaries (see
 * domain/passwords/strength.ts): Node imports the npm packages; the Worker
 * fetches the JSON file that write-worker-assets.mjs made from the same
 * packages and wrangler uploaded as a static asset.
 */
import type { LoadPasswordDictionaries, PasswordDictionaries } from "../domain/passwords/strength.js";

/** Path of the dictionaries among the Worker's static assets. */
export const PASSWORD_DICTIONARIES_ASSET = "/password-dictionaries.json";

export const importPasswordDictionaries: LoadPasswordDictionaries = async () => {
  const [common, en] = await Promise.all([import("@zxcvbn-ts/language-common"), import("@zxcvbn-ts/language-en")]);
  return {
    dictionary: { ...common.dictionary, ...en.dictionary },
    adjacencyGraphs: common.adjacencyGraphs,
    translations: en.translations,
  };
};

/** The static-assets binding of a Worker (wrangler.toml `[assets] binding`). */
export interface AssetsBinding {
  fetch(input: string): Promise<Response>;
}

export function fetchPasswordDictionaries(assets: AssetsBinding): LoadPasswordDictionaries {
  return async () => {
    // The host is ignored by the assets binding; only the path selects the file.
    const response = await assets.fetch(`https://assets.invalid${PASSWORD_DICTIONARIES_ASSET}`);
    if (!response.ok) throw new Error(`password dictionaries: the assets binding answered ${response.status}`);
    return (await response.json()) as PasswordDictionaries;
  };
}
