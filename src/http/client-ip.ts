/** The client's IP behind trusted proxies (Dex's `web.clientRemoteIP`), for rate limits and logs. */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** Dex's `web.clientRemoteIP`. */
export interface ClientIpOptions {
  /** The header carrying the client IP, e.g. X-Forwarded-For or X-Real-IP. */
  readonly header: string;
  /** CIDR ranges of the proxies whose header is believed; from any other peer it is ignored. */
  readonly trustedProxies: readonly string[];
}

/** The IP in a header entry: the entry itself, or its address when written with a port (`[v6]:port`, `v4:port`); undefined for anything else. */
const ipOf = (entry: string): string | undefined => {
  if (isIP(entry) !== 0) return entry;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed?.[1] !== undefined) return isIP(bracketed[1]) === 6 ? bracketed[1] : undefined;
  const withPort = /^([\d.]+):\d+$/.exec(entry);
  return withPort?.[1] !== undefined && isIP(withPort[1]) === 4 ? withPort[1] : undefined;
};

/**
 * Reads client IPs as `options` say. A request's IP is its peer's address unless that peer is a trusted proxy;
 * then the header's addresses are read from the right (each proxy appends the one it saw) past every trusted
 * one, and the first untrusted address is the client. An entry that is not an IP ends the walk at the last
 * address known good, so a client cannot choose its IP by sending the header through a proxy that appends.
 */
export const clientIpReader = (options: ClientIpOptions): ((raw: IncomingMessage) => string | undefined) => {
  const trusted = new BlockList();
  for (const range of options.trustedProxies) {
    const [network = '', bits = ''] = range.split('/');
    trusted.addSubnet(network, Number(bits), isIP(network) === 6 ? 'ipv6' : 'ipv4');
  }
  const isTrusted = (ip: string): boolean => trusted.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  const header = options.header.toLowerCase();
  return (raw) => {
    const peer = raw.socket.remoteAddress;
    if (peer === undefined || !isTrusted(peer)) return peer;
    const value = raw.headers[header];
    const entries = (Array.isArray(value) ? value.join(',') : (value ?? '')).split(',').map((entry) => entry.trim());
    let client = peer;
    for (let i = entries.length - 1; i >= 0; i--) {
      const ip = ipOf(entries[i] ?? '');
      if (ip === undefined) break;
      client = ip;
      if (!isTrusted(ip)) break;
    }
    return client;
  };
};
