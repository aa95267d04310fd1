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
export * from './pay/policy';
export * from './pay/errors';
export * from './pay/certificate';
export * from './pay/redpacket';
export * from './pay/v3/policy';
export * from './pay/v3/errors';
export * from './pay/v3/keys';
export * from './pay/v3/http';
export * from './pay/v3/transfer';
export * from './pay/v3/notify';
export * from './redpacket/model';
export * from './redpacket/amounts';
export * from './redpacket/billno';
export * from './redpacket/campaign';
export * from './redpacket/errors';
export * from './redpacket/counters';
export * from './redpacket/claims';
export * from './redpacket/sender';
export * from './redpacket/service';
export * from './redpacket/config';
