/**
 * Feature paths are globs over object keys (`features/user_behavior/*.parquet`, `logs/**\/*.csv`,
 * `{clicks,views}/*.json`), matched with picomatch (POSIX rules, so no platform sniffing in
 * workerd). A listing only needs the glob's static prefix: `features/user_behavior/` is listed,
 * not the whole bucket. A path without glob characters names one key; one ending in `/` means
 * every file under it.
 */
import picomatch from "picomatch/posix";

export interface KeyGlob {
  /** The longest literal prefix: what the store is asked to list. */
  prefix: string;
  matches(key: string): boolean;
}

export function compileGlob(path: string): KeyGlob {
  const pattern = path.replace(/^\/+/, "").endsWith("/") ? `${path.replace(/^\/+/, "")}**` : path.replace(/^\/+/, "");
  const scan = picomatch.scan(pattern);
  if (!scan.isGlob) return { prefix: pattern, matches: (key) => key === pattern };
  const isMatch = picomatch(pattern, { dot: false });
  return { prefix: scan.base ? `${scan.base}/` : "", matches: (key) => isMatch(key) };
}
