/**
 * decryptCode's core (CardService.decrypt) against the WeChat sandbox over HTTP, with a store
 * that can fail: a store error must fail the call, never skip the ownership check.
 */
import { startWechatSandbox, type RunningWechatSandbox } from '../../../scripts/local/sandbox';
import { CardService, type CardRegistration } from '../../../shared/cards/service';
import type { Credential } from '../../../shared/credentials/model';
import { StoreError } from '../../../shared/errors';
import { COLLECTIONS, type DocumentStore, type StoredDoc } from '../../../shared/store/port';
import { userLinkId } from '../../../shared/users/links';
import { createWechatHttp } from '../../../shared/wechat/http';
import { APPID, BASE_MS, accessToken, addOne, createCard, sandboxOptions, ticket } from './card-helpers';

const MP_APPID = 'wx00000000000000c3';

/** Just what decrypt reads, in memory; a collection listed in `failing` answers like a broken database. */
function memoryStore(failing: Set<string>): DocumentStore & { docs: Map<string, StoredDoc> } {
  const docs = new Map<string, StoredDoc>();
  const unused = () => Promise.reject(new Error('not used by decrypt'));
  return {
    docs,
    async get<T extends StoredDoc>(collection: string, id: string) {
      if (failing.has(collection)) throw new StoreError(`database.getDocument failed on ${collection}`);
      return (docs.get(`${collection}/${id}`) as T | undefined) ?? null;
    },
    async put(collection, doc) {
      docs.set(`${collection}/${doc._id}`, doc);
    },
    insert: unused,
    update: unused,
    remove: unused,
    find: unused,
    count: unused,
    transaction: unused,
  };
}

let sandbox: RunningWechatSandbox;
beforeAll(async () => {
  sandbox = await startWechatSandbox(sandboxOptions);
});
afterAll(() => sandbox.close());

async function setUp(failing: Set<string>) {
  sandbox.control.reset();
  const token = await accessToken(sandbox);
  const cardId = await createCard(sandbox, token);
  const encryptCode = await addOne(sandbox, { cardId, apiTicket: await ticket(sandbox, token) }, 'oOA-owner');
  const store = memoryStore(failing);
  await store.put(COLLECTIONS.cards, { _id: cardId, officialAppId: APPID, customCode: false, bindOpenid: false, issuable: true, title: 't', registeredAtMs: BASE_MS } satisfies CardRegistration);
  const credential: Credential = { value: token, version: 1, expiresAtMs: BASE_MS + 7_200_000 };
  const tokens = { get: async () => credential, recover: async () => credential };
  const cards = new CardService({
    store,
    http: createWechatHttp({ baseUrl: sandbox.url }),
    officialAppId: APPID,
    tokens,
    cardTicket: tokens,
    now: () => BASE_MS,
  });
  return { cards, cardId, encryptCode, store };
}

describe('CardService.decrypt fails closed', () => {
  it.each([
    { case: 'the user links', failing: COLLECTIONS.userLinks },
    { case: 'the card ownership records', failing: COLLECTIONS.cardCodeOwners },
  ])('fails with STORE_ERROR, and no code, when $case cannot be read', async ({ failing }) => {
    const { cards, cardId, encryptCode } = await setUp(new Set([failing]));

    await expect(cards.decrypt({ openid: 'o-mp-user', appid: MP_APPID, unionid: 'u-user' }, cardId, encryptCode)).rejects.toThrow(StoreError);
  });

  it('decrypts for the owner once the store answers, through the unionid link and card/code/get', async () => {
    const { cards, cardId, encryptCode, store } = await setUp(new Set());
    await store.put(COLLECTIONS.userLinks, { _id: userLinkId(APPID, 'u-owner'), officialAppId: APPID, unionid: 'u-owner', openid: 'oOA-owner', source: 'operator', linkedAtMs: BASE_MS });

    await expect(cards.decrypt({ openid: 'o-mp-owner', appid: MP_APPID, unionid: 'u-owner' }, cardId, encryptCode)).resolves.toEqual({ cardId, code: expect.stringMatching(/^\d{12}$/) });
    await expect(cards.decrypt({ openid: 'o-mp-user', appid: MP_APPID }, cardId, encryptCode)).rejects.toMatchObject({ code: 'NOT_ELIGIBLE', publicReason: 'NO_UNIONID' });
  });
});
