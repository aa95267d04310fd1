/**
 * The control operations tests use to steer the sandbox: counters, reset, the clock, token
 * events another system would cause, faults, the whitelist and accounts, cards and the WeChat
 * client's card actions (wx.addCard, deleting a card). Every input is
 * validated (bad input throws {@link SandboxInputError}), because the HTTP control API passes
 * request bodies straight through.
 */
import {
  CARD_STATUSES, userCardStatus, type CardDateInfo, type CardRecord, type CardStatus, type CardType, type UserCardRecord,
  type UserCardStatus,
} from './card-state';
import { addCardAsClient, deleteCardAsClient, type AddCardResult, type ClientAddCardInput, type ClientDeleteCardInput } from './client';
import { addFault, type Fault, type FaultInput } from './faults';
import { expectIpList, parseAccount, type SandboxAccount } from './options';
import {
  expireLiveTokens, issueClassicToken, liveTokens, resetSandboxState, revokeLiveTokens, sandboxNowMs,
  takeDailyQuota, tokenValidUntilMs, type SandboxState, type TokenKind, type TokenRecord,
} from './state';
import { accountStatsSnapshot, resetStats, statsSnapshot, type SandboxAccountStats, type SandboxStats } from './stats';
import { createBrowserControl, type BrowserControl } from './browser';
import { riskUserOf, setRiskUser, type RiskUserView } from './api/risk';
import { createUsersControl, expectUserId, openidOf, type UsersControl } from './users';
import { SandboxInputError, expectNonNegativeNumber, expectOptionalBoolean, expectRecord, expectString } from './validate';

/** The sandbox clock as `GET /__sandbox/clock` shows it. */
export interface SandboxClockView {
  nowMs: number;
  offsetMs: number;
}

/** A live token as `GET /__sandbox/tokens` shows it (a sandbox may show its values). */
export interface SandboxTokenView {
  kind: TokenKind;
  access_token: string;
  issuedAtMs: number;
  expiresAtMs: number;
  /** When it stops working: its expiry, or earlier if superseded (the classic 5-minute overlap). */
  validUntilMs: number;
}

/** An official account as `GET /__sandbox/accounts` shows it: local values, never a real secret. */
export interface SandboxAccountView {
  appid: string;
  kind: 'service' | 'subscription';
  verified: boolean;
  /** The server URL settings; null when the account has none. */
  mode: 'plain' | 'compatible' | 'safe' | null;
  token: string | null;
  encodingAESKey: string | null;
  pushUrl: string | null;
  originalId: string;
  name: string;
  openPlatformId: string | null;
}

/** `GET /__sandbox/accounts`. */
export interface SandboxAccountsView {
  accounts: SandboxAccountView[];
  miniPrograms: Array<{ appid: string; name: string; openPlatformId: string | null }>;
}

/** One issued code of a card, as `GET /__sandbox/cards` shows it. */
export interface SandboxUserCardView {
  code: string;
  openid: string;
  /** As `/card/code/get` would report it now. */
  status: UserCardStatus;
  outerStr: string;
  receivedAtMs: number;
  beginTimestamp: number;
  endTimestamp: number;
  consumedAtMs: number | undefined;
  /** The account whose access_token consumed it. */
  consumedByAppid: string | undefined;
}

/** A card with its stock and issued codes, as `GET /__sandbox/cards` shows it. */
export interface SandboxCardView {
  cardId: string;
  appid: string;
  cardType: CardType;
  title: string;
  status: CardStatus;
  useCustomCode: boolean;
  bindOpenid: boolean;
  getLimit: number;
  quantity: number;
  stockLeft: number;
  dateInfo: CardDateInfo;
  createdAtMs: number;
  codes: SandboxUserCardView[];
}

/** The control operations, the same as the HTTP control API under `/__sandbox/`. */
export interface SandboxControl {
  stats(): SandboxStats;
  /** Upstream calls per account and path. */
  accountStats(): SandboxAccountStats;
  resetStats(): void;
  /** Forgets tokens, tickets, quotas, counters, faults, the clock offset, images and cards; restores the whitelist and (unless kept) the accounts. */
  reset(options?: { keepAccounts?: boolean }): void;
  clock(): SandboxClockView;
  /** Moves the sandbox clock forward (never back: expiry must not be undone). */
  advanceClock(advanceMs: number): SandboxClockView;
  /** Adds an account, or changes one (a new secret: as if the AppSecret had been reset; fields left out keep their value). */
  setAccount(account: { appid: string; secret: string } & Record<string, unknown>): void;
  /** Official accounts with their kind, verification and push settings, and the mini-programs. */
  accounts(): SandboxAccountsView;
  /** The sandbox-wide whitelist, or with `appid` that account's own (null: back to the sandbox-wide one). */
  setWhitelist(ips: string[] | null, appid?: string): string[] | null;
  tokens(appid: string): SandboxTokenView[];
  /** Every live token of the account expires now: 42001 afterwards. */
  expireTokens(appid: string): { expired: number };
  /** As if another system had force-refreshed: the current tokens answer 40001 from now on. */
  invalidateTokens(appid: string, kind?: TokenKind | 'all'): { invalidated: number };
  /** Another system calls classic /cgi-bin/token: a new token, and the previous classic ones die 5 minutes later. */
  otherSystemFetch(appid: string): SandboxTokenView;
  addFault(input: FaultInput): Fault;
  faults(): Fault[];
  clearFaults(): void;
  /** Cards with stock and issued codes, oldest first; only the account's when `appid` is given. */
  cards(appid?: string): SandboxCardView[];
  /** Changes a card's review status, e.g. to CARD_STATUS_NOT_VERIFY (adding it then fails with 40078). */
  setCardStatus(input: { card_id: string; status: CardStatus }): SandboxCardView;
  /**
   * Plays wx.addCard: verifies the cardList as WeChat does, issues the codes (see client.ts), and
   * answers once WeChat's user_get_card pushes to the account were answered. `user` (a sandbox user)
   * may stand for `openid`.
   */
  addCard(input: ClientAddCardInput | (Omit<ClientAddCardInput, 'openid'> & { user: string })): Promise<AddCardResult>;
  /** Plays the user deleting a card from their pack (WeChat then pushes user_del_card). */
  deleteCard(input: ClientDeleteCardInput): void;
  /** Sandbox users and their follows, messages and pushes (users.ts). */
  users: UsersControl;
  /** The in-app browser, the JS-SDK's wx.config check, snapshot-page users, replaced tickets (browser.ts). */
  browser: BrowserControl;
  /** A mini-program user's risk rank for wxa/getuserriskrank, and a visit now unless `visited: false` (api/risk.ts). */
  setRiskUser(input: unknown): RiskUserView;
  riskUser(input: { openid: string | null; appid: string | null }): RiskUserView | null;
}

// Ten years: far enough for any test, small enough to keep dates representable.
const MAX_ADVANCE_MS = 10 * 366 * 86_400_000;

/** The control operations over one state; `knownPaths` are the WeChat paths faults may target. */
export function createSandboxControl(state: SandboxState, knownPaths: ReadonlySet<string>): SandboxControl {
  const knownAppid = (value: unknown): string => {
    const appid = expectString(value, 'appid');
    if (!state.accounts.has(appid)) throw new SandboxInputError(`appid ${appid} is not a sandbox account`);
    return appid;
  };
  const clockView = (): SandboxClockView => ({ nowMs: sandboxNowMs(state), offsetMs: state.clockOffsetMs });
  const control: SandboxControl = {
    stats: () => statsSnapshot(state),
    accountStats: () => accountStatsSnapshot(state),
    resetStats: () => resetStats(state),
    reset(options = {}) {
      const record = expectRecord(options, 'reset options', ['keepAccounts']);
      resetSandboxState(state, { keepAccounts: expectOptionalBoolean(record.keepAccounts, 'keepAccounts') ?? false });
    },
    clock: clockView,
    advanceClock(advanceMs) {
      state.clockOffsetMs += expectNonNegativeNumber(advanceMs, 'advanceMs', MAX_ADVANCE_MS);
      return clockView();
    },
    setAccount(account) {
      const appid = (account as { appid?: unknown } | null)?.appid;
      const parsed = parseAccount(account, 'account', typeof appid === 'string' ? state.accounts.get(appid) : undefined);
      state.accounts.set(parsed.appid, parsed);
    },
    accounts() {
      const all = [...state.accounts.values()];
      return {
        accounts: all.filter((account) => account.kind !== 'miniprogram').map(accountView),
        miniPrograms: all
          .filter((account) => account.kind === 'miniprogram')
          .map(({ appid, name, openPlatformId }) => ({ appid, name, openPlatformId })),
      };
    },
    setWhitelist(ips, appid) {
      if (appid !== undefined) {
        const account = state.accounts.get(knownAppid(appid))!;
        account.ipWhitelist = ips === null ? null : expectIpList(ips, 'ips');
        return account.ipWhitelist;
      }
      state.ipWhitelist = new Set(expectIpList(ips, 'ips'));
      return [...state.ipWhitelist];
    },
    tokens: (appid) => liveTokens(state, knownAppid(appid)).map(tokenView),
    expireTokens: (appid) => ({ expired: expireLiveTokens(state, knownAppid(appid)) }),
    invalidateTokens(appid, kind = 'all') {
      if (kind !== 'classic' && kind !== 'stable' && kind !== 'all') {
        throw new SandboxInputError("kind must be 'classic', 'stable' or 'all'");
      }
      return { invalidated: revokeLiveTokens(state, knownAppid(appid), kind) };
    },
    otherSystemFetch(appid) {
      const known = knownAppid(appid);
      // The other system spends the same per-account quota; past it, WeChat would refuse it too.
      if (!takeDailyQuota(state, known, 'token', state.config.tokenDailyQuota)) {
        throw new SandboxInputError(`the classic token daily quota of ${known} is used up`);
      }
      return tokenView(issueClassicToken(state, known));
    },
    addFault: (input) => addFault(state, input, knownPaths),
    faults: () => state.faults.map((fault) => ({ ...fault })),
    clearFaults() {
      state.faults = [];
    },
    cards(appid) {
      const wanted = appid === undefined ? undefined : knownAppid(appid);
      const userCards = [...state.cards.userCardsByCode.values()].flat().sort((a, b) => a.receivedAtMs - b.receivedAtMs);
      return [...state.cards.cards.values()]
        .filter((card) => wanted === undefined || card.appid === wanted)
        .map((card) => cardView(card, userCards.filter((userCard) => userCard.cardId === card.cardId), sandboxNowMs(state)));
    },
    setCardStatus(input) {
      const record = expectRecord(input, 'card status body', ['card_id', 'status']);
      const card = state.cards.cards.get(expectString(record.card_id, 'card_id'));
      if (card === undefined) throw new SandboxInputError(`card_id ${String(record.card_id)} is not a sandbox card`);
      if (!CARD_STATUSES.includes(record.status as CardStatus)) throw new SandboxInputError(`status must be one of ${CARD_STATUSES.join(', ')}`);
      card.status = record.status as CardStatus;
      return control.cards().find((view) => view.cardId === card.cardId) as SandboxCardView;
    },
    async addCard(input) {
      const record = expectRecord(input, 'add-card body', ['appid', 'openid', 'user', 'cardList', 'deliverPush']);
      if (!Array.isArray(record.cardList)) throw new SandboxInputError('cardList must be an array');
      const appid = knownAppid(record.appid);
      const openid = record.user !== undefined ? openidOf(state, appid, expectUserId(record.user)) : expectString(record.openid, 'openid');
      const deliverPush = expectOptionalBoolean(record.deliverPush, 'deliverPush');
      const { pushes: delivering, ...result } = addCardAsClient(state, { appid, openid, cardList: record.cardList, ...(deliverPush === undefined ? {} : { deliverPush }) });
      const pushes = await Promise.all(delivering);
      return pushes.length === 0 ? result : { ...result, pushes };
    },
    deleteCard(input) {
      const record = expectRecord(input, 'delete-card body', ['appid', 'openid', 'cardId', 'code']);
      deleteCardAsClient(state, {
        appid: knownAppid(record.appid),
        openid: expectString(record.openid, 'openid'),
        cardId: expectString(record.cardId, 'cardId'),
        code: expectString(record.code, 'code'),
      });
    },
    users: createUsersControl(state),
    browser: createBrowserControl(state),
    setRiskUser: (input) => setRiskUser(state, input),
    riskUser: (input) => riskUserOf(state, input),
  };
  return control;
}

function cardView(card: CardRecord, userCards: UserCardRecord[], nowMs: number): SandboxCardView {
  return {
    cardId: card.cardId,
    appid: card.appid,
    cardType: card.cardType,
    title: card.title,
    status: card.status,
    useCustomCode: card.useCustomCode,
    bindOpenid: card.bindOpenid,
    getLimit: card.getLimit,
    quantity: card.quantity,
    stockLeft: card.stockLeft,
    dateInfo: card.dateInfo,
    createdAtMs: card.createdAtMs,
    codes: userCards.map((userCard) => ({
      code: userCard.code,
      openid: userCard.openid,
      status: userCardStatus(userCard, nowMs),
      outerStr: userCard.outerStr,
      receivedAtMs: userCard.receivedAtMs,
      beginTimestamp: userCard.beginTimestamp,
      endTimestamp: userCard.endTimestamp,
      consumedAtMs: userCard.consumedAtMs,
      consumedByAppid: userCard.consumedByAppid,
    })),
  };
}

function accountView(account: SandboxAccount): SandboxAccountView {
  return {
    appid: account.appid,
    kind: account.kind as 'service' | 'subscription',
    verified: account.verified,
    mode: account.push?.mode ?? null,
    token: account.push?.token ?? null,
    encodingAESKey: account.push?.encodingAESKey ?? null,
    pushUrl: account.push?.url ?? null,
    originalId: account.originalId,
    name: account.name,
    openPlatformId: account.openPlatformId,
  };
}

function tokenView(record: TokenRecord): SandboxTokenView {
  return {
    kind: record.kind,
    access_token: record.accessToken,
    issuedAtMs: record.issuedAtMs,
    expiresAtMs: record.expiresAtMs,
    validUntilMs: tokenValidUntilMs(record),
  };
}
