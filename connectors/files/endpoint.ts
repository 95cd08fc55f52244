/**
 * The `endpoint` field of the object-store connectors: an http(s) URL of the store and nothing
 * else. Credentials, a query string or a fragment in it would be stored and shown as plain config
 * (only fields marked secret are encrypted and hidden), so they are refused: keys and SAS tokens
 * have fields of their own.
 */
import { z } from "zod";

export const EndpointUrl = z.url({ protocol: /^https?$/ }).refine(
  (text) => {
    let url: URL;
    try {
      url = new URL(text); // zod's URL check accepts some text the URL parser does not ("http:// :1")
    } catch {
      return false;
    }
    return url.username === "" && url.password === "" && url.search === "" && url.hash === "" && !/[?#@]/.test(text.replace(/^https?:\/\//, ""));
  },
  { message: "must be the store's URL, e.g. https://host:port, without credentials, query string or fragment (keys and SAS tokens go in their own fields, which are encrypted)" },
);
