/** HTTP access (集成请求/集成响应) for cloud functions: see handler.ts for the contract. */
export * from './handler';
export * from './proofs';
export * from './request';
export * from './response';
export * from './page-headers';
