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
export * from './credentials/accounts';
export * from './accounts/model';
export * from './accounts/registry';
export * from './accounts/validate';
export * from './accounts/store';
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
export * from './claims/model';
export * from './claims/amounts';
export * from './claims/campaign';
export * from './claims/errors';
export * from './claims/pacing';
export * from './claims/engine';
export * from './claims/config';
export * from './claims/eligibility';
export * from './claims/eligibility/types';
export * from './claims/eligibility/miniprogram';
export * from './claims/payout';
export * from './claims/payout/types';
export * from './claims/payout/redpacket';
export * from './claims/payout/miniprogram';
export * from './claims/payout/cash';
