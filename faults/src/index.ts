export * from './scenario.ts';
export * from './stage.ts';
export * from './workload.ts';
