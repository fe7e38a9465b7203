import type { IncomingHttpHeaders } from 'node:http';
import type { Identity } from '@insta/infra';

/** Who sent a request from outside (`client-ip.ts` resolves the address through trusted proxies). */
export interface ClientInfo {
  ip: string;
}

/** Per-request context of the gateway: who is calling, and the client headers forwarded to subgraphs. */
export interface GatewayContext {
  identity: Identity | null;
  /** Set on every client request; the gateway's own operations (subscription visibility checks) have none. */
  client?: ClientInfo;
  clientHeaders?: IncomingHttpHeaders;
  /** The caller encoded for the identity header, made on the first subgraph fetch (each fetch signs its own). */
  principalClaim?: string;
  /**
   * Set while one subscription event is executed: the root value the in-process realtime subgraph executes the
   * subscription's primary fetch against (`{ postLiked: { post: { id }, user: { id }, likeCount } }`).
   */
  realtimeRoot?: Record<string, unknown>;
}
