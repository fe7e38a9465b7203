export const SERVICE_NAMES = ['users', 'posts', 'feed', 'social-graph', 'media', 'gateway'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
