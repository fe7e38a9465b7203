import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientIpResolver } from '../src/http/client-ip.ts';

const request = (remoteAddress: string, forwardedFor?: string | string[]) =>
  ({
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  }) as unknown as IncomingMessage;

describe('clientIpResolver', () => {
  it('should take the peer address and ignore X-Forwarded-For when no proxy is trusted', () => {
    const resolve = clientIpResolver([]);
    expect(resolve(request('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
  });

  it('should unwrap IPv4-mapped IPv6 peer addresses', () => {
    expect(clientIpResolver([])(request('::ffff:203.0.113.9'))).toBe('203.0.113.9');
  });

  it('should take the last untrusted hop behind trusted proxies, by address or range', () => {
    const resolve = clientIpResolver(['10.0.0.0/8', '2001:db8::1']);
    expect(resolve(request('10.1.2.3', '198.51.100.7'))).toBe('198.51.100.7');
    expect(resolve(request('10.1.2.3', '203.0.113.1, 198.51.100.7, 10.9.9.9'))).toBe('198.51.100.7');
    expect(resolve(request('2001:db8::1', ['198.51.100.8', '10.0.0.5']))).toBe('198.51.100.8');
  });

  it('should not believe X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(clientIpResolver(['10.0.0.0/8'])(request('192.0.2.50', '198.51.100.7'))).toBe('192.0.2.50');
  });

  it('should stop at a hop that is not an address and keep the last trusted one', () => {
    expect(clientIpResolver(['10.0.0.0/8'])(request('10.0.0.1', 'garbage, 10.0.0.2'))).toBe('10.0.0.2');
  });

  it('should take the trusted proxy itself when every hop is trusted or none is given', () => {
    expect(clientIpResolver(['10.0.0.0/8'])(request('10.0.0.1'))).toBe('10.0.0.1');
  });
});
