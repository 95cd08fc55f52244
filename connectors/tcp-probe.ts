/**
 * A TCP reachability probe over Workers sockets (`cloudflare:sockets`): opens a connection to
 * host:port, waits until it is open, closes it. Stream connectors use it as their connection test:
 * the Worker does not speak Kafka's or Pulsar's binary protocol (their bridges do), so what it can
 * prove from where it runs is that each broker address accepts a TCP connection.
 */
import { connect } from "cloudflare:sockets";
import { sourceError, toSourceError } from "./errors";

/** Opens and closes one TCP connection; throws a classified SourceError (refused, dns, timeout...). */
export async function probeTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  let socket: Socket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    socket = connect({ hostname: host.replace(/^\[(.*)\]$/, "$1"), port });
    // A refused connection also rejects `closed`; `opened` reports it.
    socket.closed.catch(() => {});
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(sourceError("timeout", `no TCP connection to ${host}:${port} within ${timeoutMs / 1000}s`)), timeoutMs);
    });
    await Promise.race([socket.opened, timeout]);
  } catch (err) {
    throw toSourceError(err, "unknown", []);
  } finally {
    clearTimeout(timer);
    // Closing a socket that never opened rejects too; nothing to do about it.
    await socket?.close().catch(() => {});
  }
}

/** `host:port` (IPv6 in brackets) split, or null when it is not one. */
export function splitHostPort(text: string): { host: string; port: number } | null {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\s/[\]]+):(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1] as string, port } : null;
}
