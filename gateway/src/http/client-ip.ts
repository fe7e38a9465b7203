import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

export { CLIENT_IP_HEADER } from '@insta/infra';

const ipOrCidr = (entry: string) => {
  const [address = '', bits, extra] = entry.split('/');
  const family = isIP(address);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  const prefix = Number(bits);
  return /^\d+$/.test(bits) && prefix <= (family === 4 ? 32 : 128);
};

/** The gateway's client-address settings (README: "Security"). */
export const clientIpEnv = {
  /**
   * Comma-separated addresses or CIDR ranges of the proxies / load balancers in front of the gateway. Only they
   * may say who the client is (X-Forwarded-For); empty: the peer address is the client.
   */
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean),
    )
    .refine((entries) => entries.every(ipOrCidr), 'must be comma-separated IP addresses or CIDR ranges'),
};

const normalise = (address: string) => {
  const trimmed = address.trim().replace(/^\[(.*)\]$/, '$1');
  return trimmed.startsWith('::ffff:') && isIP(trimmed.slice(7)) === 4 ? trimmed.slice(7) : trimmed;
};

/**
 * The client address of a request: the peer, unless the peer is a trusted proxy; then X-Forwarded-For is read
 * from the right (the hop closest to us), skipping trusted proxies, and the first untrusted hop is the client.
 * Entries left of it were written by the client and are never believed.
 */
export function clientIpResolver(trustedProxies: readonly string[]): (req: IncomingMessage) => string {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address = '', bits] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(bits), family);
  }
  const isTrusted = (address: string) => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };

  return (req) => {
    let client = normalise(req.socket.remoteAddress ?? '');
    if (trustedProxies.length === 0 || !isTrusted(client)) return client || 'unknown';
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map(normalise);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] ?? '';
      if (!isIP(hop)) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
}
