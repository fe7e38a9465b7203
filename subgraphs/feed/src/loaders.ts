/** The feed subgraph resolves no entities yet, so it has no loaders. */
export function createLoaders() {
  return {};
}
export type Loaders = ReturnType<typeof createLoaders>;
