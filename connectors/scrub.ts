/**
 * Keeps secrets out of messages (errors, run records, logs) by scrubbing the places a secret can
 * actually appear, rather than every occurrence of its text: replacing a password `x` everywhere
 * turned `does not exist` into `does not e***ist`, and a password `password` would have eaten the
 * driver's own word in `password authentication failed`. The places:
 *
 * - URLs: the userinfo (`postgres://user:secret@host`) and the values of query parameters that carry
 *   credentials (`sig=` of an Azure SAS, `X-Amz-Signature=`, `X-Amz-Security-Token=`, `token=`...);
 * - `key=value` / `key: value` / `"key": "value"` pairs whose key names a credential (connection
 *   strings, echoed config, headers such as `Authorization: Bearer ...`);
 * - FStore API keys (`fsk_...`) wherever they appear;
 * - the text of a known secret (a connector's password, SAS token, access keys) when it is
 *   distinctive enough never to be an ordinary word: at least 8 characters, not all letters.
 *
 * SourceError (types.ts) scrubs every message it is given; the Worker scrubs what it logs.
 */

/** Names of keys and query parameters whose values are credentials. */
const CREDENTIAL_KEY = String.raw`(?:[A-Za-z0-9_-]*(?:password|passwd|pwd|secret|token|credential|signature|api[_-]?key|access[_-]?key|session[_-]?key)[A-Za-z0-9_-]*|sig|sas|authorization|x-amz-[a-z-]+)`;

const URL_PATTERN = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@'"<>]*@)?([^\s?#'"<>]*)(\?[^\s#'"<>]*)?/gi;
const PAIR_PATTERN = new RegExp(String.raw`((?:^|[^A-Za-z0-9_-])["']?${CREDENTIAL_KEY}["']?\s*[=:]\s*)(?!(?:YES|NO)\b)("(?:[^"\\]|\\.)*"|'[^']*'|(?:Bearer|Basic)\s+[^\s,;&'"]+|[^\s&;,'"}\]]+)`, "gi");
const SENSITIVE_PARAM = new RegExp(`^${CREDENTIAL_KEY}$`, "i");
const API_KEY = /\bfsk_[A-Za-z0-9_-]{8,}/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/** A secret distinctive enough that replacing its text cannot mangle an ordinary word. */
const distinctive = (secret: string) => secret.length >= 8 && /[^A-Za-z]/.test(secret);

function scrubQuery(query: string, secrets: readonly string[]): string {
  return query.replace(/([?&])([^=&#]*)=([^&#]*)/g, (whole, sep: string, key: string, value: string) => {
    let decodedKey = key;
    try {
      decodedKey = decodeURIComponent(key);
    } catch {
      // keep it as written
    }
    const holdsSecret = secrets.some((s) => s !== "" && (value.includes(s) || value.includes(encodeURIComponent(s))));
    return SENSITIVE_PARAM.test(decodedKey) || holdsSecret ? `${sep}${key}=***` : whole;
  });
}

/** `text` without the secrets it may carry (see the module comment); `secrets` are known secret values. */
export function scrubMessage(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(URL_PATTERN, (_whole, scheme: string, userinfo: string | undefined, rest: string, query: string | undefined) => {
    // `user:password@` loses its password; a bare `token@` is a credential too, except in the
    // abfs/wasb locations FStore itself writes (`abfs://container@account`).
    const user = userinfo === undefined ? "" : userinfo.includes(":") ? `${userinfo.slice(0, userinfo.indexOf(":"))}:***@` : /^(abfss?|wasbs?):\/\/$/i.test(scheme) ? userinfo : "***@";
    return `${scheme}${user}${rest}${query === undefined ? "" : scrubQuery(query, secrets)}`;
  });
  out = out.replace(PAIR_PATTERN, (_whole, key: string) => `${key}***`);
  out = out.replace(BEARER, "$1 ***").replace(API_KEY, "fsk_***");
  for (const secret of secrets) {
    if (distinctive(secret)) out = out.split(secret).join("***");
    // A SAS token is a query string: its signature may also travel on its own.
    for (const [key, value] of new URLSearchParams(secret.replace(/^\?/, ""))) {
      if (SENSITIVE_PARAM.test(key) && distinctive(value)) out = out.split(value).join("***").split(encodeURIComponent(value)).join("***");
    }
  }
  return out;
}
