import { describe, expect, it } from 'vitest';
import { ConfigError } from '@insta/infra';
import { DEFAULT_SUPERGRAPH_PATH, loadGatewayConfig } from '../src/config.ts';

const secrets = {
  JWT_SECRET: 'j'.repeat(32),
  GATEWAY_SIGNING_SECRET: 's'.repeat(32),
};

describe('gateway config', () => {
  it('should default to local subgraphs, the committed supergraph and open tooling in development', () => {
    const config = loadGatewayConfig(secrets);
    expect(config).toMatchObject({
      HOST: '127.0.0.1',
      PORT: 4000,
      USERS_URL: 'http://127.0.0.1:4001/graphql',
      MEDIA_URL: 'http://127.0.0.1:4005/graphql',
      SUPERGRAPH_PATH: DEFAULT_SUPERGRAPH_PATH,
      INTROSPECTION: true,
      EXPLORER: true,
    });
    expect(DEFAULT_SUPERGRAPH_PATH).toMatch(/schema\/supergraph\.graphql$/);
  });

  it('should turn introspection and the explorer off in production unless asked for', () => {
    expect(loadGatewayConfig({ ...secrets, NODE_ENV: 'production' })).toMatchObject({
      INTROSPECTION: false,
      EXPLORER: false,
    });
    expect(loadGatewayConfig({ ...secrets, NODE_ENV: 'production', EXPLORER: 'true' }).EXPLORER).toBe(true);
  });

  it('should name every missing or short secret', () => {
    expect(() => loadGatewayConfig({ JWT_SECRET: 'short' })).toThrow(ConfigError);
    expect(() => loadGatewayConfig({ JWT_SECRET: 'short' })).toThrow(
      /JWT_SECRET: must be at least 32 characters[\s\S]*GATEWAY_SIGNING_SECRET/,
    );
  });

  it('should read the edge settings: rate-limit policies, trusted proxies, CORS origins', () => {
    const config = loadGatewayConfig({
      ...secrets,
      RATE_LIMIT_WRITE: '30/10',
      TRUSTED_PROXIES: '10.0.0.0/8, 2001:db8::1',
      CORS_ORIGINS: 'https://app.example.com,https://admin.example.com',
    });
    expect(config).toMatchObject({
      RATE_LIMITS: true,
      RATE_LIMIT_WRITE: { capacity: 30, windowSeconds: 10 },
      RATE_LIMIT_READ: { capacity: 600, windowSeconds: 60 },
      TRUSTED_PROXIES: ['10.0.0.0/8', '2001:db8::1'],
      CORS_ORIGINS: ['https://app.example.com', 'https://admin.example.com'],
      CORS_ALLOW_CREDENTIALS: false,
    });
    expect(loadGatewayConfig(secrets).CORS_ORIGINS).toBeUndefined();
  });

  it.each([
    ['RATE_LIMIT_READ', '600 per minute'],
    ['RATE_LIMIT_AUTH', '0/60'],
    ['TRUSTED_PROXIES', '10.0.0.0/33'],
    ['TRUSTED_PROXIES', 'proxy.internal'],
    ['CORS_ORIGINS', 'app.example.com'],
    ['CORS_ORIGINS', 'https://app.example.com/'],
  ])('should refuse %s=%s, naming the variable', (name, value) => {
    expect(() => loadGatewayConfig({ ...secrets, [name]: value })).toThrow(new RegExp(`${name}: `));
  });

  it('should read per-subgraph timeouts and name a malformed one', () => {
    const config = loadGatewayConfig({ ...secrets, SUBGRAPH_TIMEOUTS: 'media=15000, feed=8000' });
    expect(config.SUBGRAPH_TIMEOUTS).toEqual({ media: 15000, feed: 8000 });
    expect(config.SUBGRAPH_TIMEOUT_MS).toBe(10_000);
    expect(() => loadGatewayConfig({ ...secrets, SUBGRAPH_TIMEOUTS: 'media:15000' })).toThrow(/SUBGRAPH_TIMEOUTS/);
  });
});
