/**
 * The core library's public API: what functions and scripts import. Functions import from the
 * specific modules they need so each bundle carries only what it uses.
 */
export * from './errors';
export * from './signing/index';
export * from './config';
export * from './log';
export * from './runtime';
export * from './store/port';
export * from './credentials/model';
export * from './credentials/owner';
export * from './credentials/reader';
export * from './credentials/services';
export * from './wechat/http';
export * from './wechat/token';
export * from './wechat/ticket';
