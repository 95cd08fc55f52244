/**
 * Encryption at rest for connector secrets: AES-GCM (WebCrypto) under a key derived with HKDF
 * from the secret FSTORE_SECRET_KEY. The connector's name is bound as additional data, so a
 * ciphertext copied onto another connector does not decrypt. Without FSTORE_SECRET_KEY nothing
 * secret is stored at all (503), never plaintext.
 */
import type { Bindings } from "./env";
import { ApiError } from "./errors";

const MIN_SECRET_KEY_LENGTH = 16;
const VERSION = "v1";
const keys = new Map<string, Promise<CryptoKey>>();

function deriveKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("fstore"), info: new TextEncoder().encode("connector-secrets/v1") },
          material,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
    keys.set(secret, key);
  }
  return key;
}

function secretKeyOf(env: Bindings): string {
  const secret = env.FSTORE_SECRET_KEY;
  if (!secret || secret.length < MIN_SECRET_KEY_LENGTH) {
    throw new ApiError(
      "SECRET_KEY_NOT_CONFIGURED",
      `FStore has no FSTORE_SECRET_KEY (at least ${MIN_SECRET_KEY_LENGTH} characters), so it cannot store or use connector secrets. ` +
        "Set it with 'wrangler secret put FSTORE_SECRET_KEY' in production; 'npm run dev' writes one to .dev.vars.",
    );
  }
  return secret;
}

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** Encrypts `secrets` for the connector `name`: `v1.<iv>.<ciphertext>`, base64. */
export async function encryptSecrets(env: Bindings, name: string, secrets: Record<string, string>): Promise<string> {
  const key = await deriveKey(secretKeyOf(env));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = new TextEncoder().encode(JSON.stringify(secrets));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(name) }, key, data);
  return `${VERSION}.${toBase64(iv)}.${toBase64(new Uint8Array(sealed))}`;
}

export async function decryptSecrets(env: Bindings, name: string, sealed: string): Promise<Record<string, string>> {
  const key = await deriveKey(secretKeyOf(env));
  const [version, iv, data] = sealed.split(".");
  if (version !== VERSION || !iv || !data) throw new ApiError("INTERNAL", `connector '${name}': stored secrets are in an unknown format`);
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64(iv), additionalData: new TextEncoder().encode(name) }, key, fromBase64(data));
    return JSON.parse(new TextDecoder().decode(plain)) as Record<string, string>;
  } catch {
    throw new ApiError(
      "SECRET_KEY_NOT_CONFIGURED",
      `connector '${name}': its secrets do not decrypt with the current FSTORE_SECRET_KEY (was the key changed?); re-create the connector`,
    );
  }
}

/** Fails fast (503) when secrets could not be stored. */
export function assertSecretKey(env: Bindings): void {
  secretKeyOf(env);
}
